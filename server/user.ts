import type { AppUserRow } from './db/schema.js';

/** The contract's `User`. */
export interface User {
  id: string;
  username: string;
  displayName: string;
}

export function toUser(row: Pick<AppUserRow, 'id' | 'username' | 'display_name'>): User {
  return { id: row.id, username: row.username, displayName: row.display_name };
}
