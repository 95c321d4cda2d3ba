import type { AppDeps, Router } from "../../http/env.ts";
import { feedCounts } from "./counts.ts";
import { listFeed } from "./list.ts";
import { markFeed } from "./mark.ts";
import { removeItem } from "./remove.ts";
import { updateItem } from "./update.ts";

/** One user's feed: list, counts, update one item, mark many, delete. */
export function feedRoutes(router: Router, deps: AppDeps, now: () => number): void {
  // counts and mark before /{id} routes so their literal segments win.
  feedCounts(router, deps, now);
  markFeed(router, deps, now);
  listFeed(router, deps, now);
  updateItem(router, deps, now);
  removeItem(router, deps, now);
}
