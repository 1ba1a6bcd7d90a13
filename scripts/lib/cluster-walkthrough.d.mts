/** Types of cluster-walkthrough.mjs: the multi-instance properties as HTTP steps returning evidence. */

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Record<string, unknown> | null;
}

export function http(
  url: string,
  options?: { method?: string; headers?: Record<string, string>; json?: unknown; timeoutMs?: number },
): Promise<HttpResult>;

export function kidOf(jwt: string): string;

export interface ClusterInfo {
  url: string;
  instances: { name?: string; url: string; pid?: number }[];
}

export function balancing(cluster: ClusterInfo, n?: number): Promise<{ status: number; upstream: string | null }[]>;

export function tokenWorksEverywhere(cluster: ClusterInfo): Promise<{
  issuedBy: string;
  email: string;
  direct: { instance: string; status: number; email: string | null }[];
  throughLb: { upstream: string | null; status: number }[];
}>;

export function logoutIsEverywhere(cluster: ClusterInfo): Promise<{
  loggedOutVia: string;
  logoutStatus: number;
  before: { instance: string; status: number }[];
  after: { instance: string; status: number; code: string | null }[];
  refreshAfterLogout: { status: number; code: string | null };
}>;

export function replayAfterGraceRevokes(
  cluster: ClusterInfo,
  graceMs: number,
): Promise<{
  rotatedVia: string;
  rotateStatus: number;
  replayedVia: string;
  replay: { status: number; code: string | null };
  newestRefresh: { via: string; status: number; code: string | null };
  newestAccess: { instance: string; status: number }[];
}>;

export function rotateKeys(cli: string, env: Record<string, string>): Promise<string>;

export function keyRotationConverges(
  cluster: ClusterInfo,
  options: { cli: string; databaseUrl: string; budgetMs: number },
): Promise<{
  kidBefore: string;
  newKid: string;
  jwksBefore: (string[] | null)[];
  jwksAfter: (string[] | null)[];
  converged: boolean;
  convergedAfterMs: number | null;
  rotateTookMs: number;
  signedWith: { instance: string; status: number; kid: string | null }[];
  oldTokenStillValid: { instance: string; status: number }[];
}>;
