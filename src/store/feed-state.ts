import type { ItemPatch, ItemState, MarkAction } from "./types.ts";

/*
 * The rules of an item's state, shared by the SQLite adapter. The Redis adapter mirrors them in
 * Lua (redis/scripts.ts); the contract suite holds the two to the same behaviour.
 *
 * - read implies seen; unseen implies unread.
 * - an archived item leaves the counts, but keeps its read and seen state.
 */

/** The item's share of the counts: [total, unread, unseen]. Archived items count for nothing. */
export function countsOf(s: ItemState): [number, number, number] {
  if (s.archivedAt !== null) return [0, 0, 0];
  return [1, s.readAt === null ? 1 : 0, s.seenAt === null ? 1 : 0];
}

/** The state after a bulk action, or null when the action changes nothing. */
export function applyMark(s: ItemState, action: MarkAction, now: number): ItemState | null {
  switch (action) {
    case "read":
      return s.readAt === null ? { ...s, readAt: now, seenAt: s.seenAt ?? now } : null;
    case "unread":
      return s.readAt !== null ? { ...s, readAt: null } : null;
    case "seen":
      return s.seenAt === null ? { ...s, seenAt: now } : null;
    case "archive":
      return s.archivedAt === null ? { ...s, archivedAt: now } : null;
    case "unarchive":
      return s.archivedAt !== null ? { ...s, archivedAt: null } : null;
  }
}

/** The state after a PATCH, or null when it changes nothing. `{ read: true, seen: false }` is rejected by validation. */
export function applyPatch(s: ItemState, patch: ItemPatch, now: number): ItemState | null {
  let next = s;
  if (patch.seen === false) next = { ...next, seenAt: null, readAt: null };
  if (patch.seen === true && next.seenAt === null) next = { ...next, seenAt: now };
  if (patch.read === false) next = { ...next, readAt: null };
  if (patch.read === true && next.readAt === null) next = { ...next, readAt: now, seenAt: next.seenAt ?? now };
  if (patch.archived === true && next.archivedAt === null) next = { ...next, archivedAt: now };
  if (patch.archived === false) next = { ...next, archivedAt: null };
  const changed = next.seenAt !== s.seenAt || next.readAt !== s.readAt || next.archivedAt !== s.archivedAt;
  return changed ? next : null;
}
