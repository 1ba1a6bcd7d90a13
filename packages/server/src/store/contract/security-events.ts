/** The security events concern of the storage contract (the audit trail a user can read). */

export interface SecurityEvent {
  id: string;
  userId: string | null;
  type: string;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
  createdAt: number;
}

export interface SecurityEventStore {
  recordEvent(event: SecurityEvent): Promise<void>;
  /** Newest first. */
  listEvents(userId: string, limit: number): Promise<SecurityEvent[]>;
  /** Deletes events older than `before`, at most `limit`; returns the count. */
  purgeEvents(before: number, limit: number): Promise<number>;
}
