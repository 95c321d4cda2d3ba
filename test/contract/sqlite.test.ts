import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { describeStoreContract } from "./store.contract.ts";

describeStoreContract("sqlite (a real file in WAL mode)", async ({ feedMax }) => {
  const dir = mkdtempSync(join(tmpdir(), "herald-sqlite-"));
  const store = openSqliteStore({ path: join(dir, "herald.db"), feedMax });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
