/**
 * Claims and worker supervision for `reproduce --jobs n` (several local worker processes sharing
 * one plan as a work queue) and for several machines over a shared results folder.
 *
 * - A claim is a JSON file `<claimDir>/<unit-id>` holding the claimer's PID, host and a heartbeat
 *   timestamp that the claimer refreshes while the unit runs ({@link claimUnit}). A live claim is
 *   never removed; a dead one (on this host: no Deno process with its PID; on another host: a
 *   heartbeat older than `staleMs`) is taken over, under a short lock so that only one worker
 *   takes it. On this host the PID decides, not the heartbeat, since a long synchronous step
 *   (e.g. fitting trees) can delay the heartbeat.
 * - The parent forwards SIGINT and SIGTERM to its workers and waits for them
 *   ({@link superviseWorkers}); a worker exits as soon as its parent is gone, even after a SIGKILL
 *   of the parent: its stdin is a pipe from the parent, which closes when the parent dies, and
 *   the parent's PID is polled as well ({@link exitWithParent}).
 *
 * @module
 */
import { basename, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../data/atomic.ts";

/** The contents of a claim file. */
export const ClaimSchema = z.object({
  unit: z.string(),
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  /** ISO time of the last refresh. */
  heartbeat: z.string(),
});
/** The contents of a claim file. */
export type Claim = z.output<typeof ClaimSchema>;

/** Timing of claims. */
export interface ClaimTiming {
  /** How often a claimer refreshes its heartbeat (default 20 s). */
  heartbeatMs?: number;
  /** A claim of another host whose heartbeat is older than this is dead (default 10 min). */
  staleMs?: number;
}

const HEARTBEAT_MS = 20_000;
const STALE_MS = 600_000;

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * Whether a process of this host is alive (a zombie counts as gone). With `command`, its command
 * line must also contain that text, so that a PID reused by another program counts as gone.
 *
 * @example
 * ```ts
 * import { pidAlive } from "./claims.ts";
 * console.log(pidAlive(Deno.pid)); // true
 * ```
 */
export function pidAlive(pid: number, options: { command?: string } = {}): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const matches = (args: string) => options.command === undefined || args.includes(options.command);
  if (Deno.build.os === "linux") {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (stat[stat.lastIndexOf(")") + 2] === "Z") return false;
      return matches(Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " "));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      // reading /proc needs --allow-all in Deno 2: ask ps instead
    }
  }
  try {
    const out = new Deno.Command("ps", {
      args: ["-o", "stat=,args=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const line = new TextDecoder().decode(out.stdout).trim();
    return out.success && line !== "" && !line.startsWith("Z") && matches(line);
  } catch {
    return true; // cannot tell: never take over a claim that may be live
  }
}

/**
 * Why a claim is dead, or null when it is live: on this host its PID must be alive; on another
 * host its heartbeat must be younger than `staleMs`.
 *
 * @example
 * ```ts
 * import { claimDeadReason } from "./claims.ts";
 * const now = new Date().toISOString();
 * claimDeadReason({ unit: "u", pid: Deno.pid, host: Deno.hostname(), startedAt: now, heartbeat: now }); // null
 * ```
 */
export function claimDeadReason(claim: Claim, options: ClaimTiming = {}): string | null {
  if (claim.host === hostname()) {
    // the claimer is a Deno process: a PID reused by another program is not a live claim
    return pidAlive(claim.pid, { command: basename(Deno.execPath()) })
      ? null
      : `process ${claim.pid} on ${claim.host} is gone`;
  }
  const age = Date.now() - Date.parse(claim.heartbeat);
  const stale = options.staleMs ?? STALE_MS;
  return age > stale
    ? `no heartbeat from ${claim.host} (process ${claim.pid}) for ${Math.round(age / 1000)} s`
    : null;
}

/**
 * Read a claim file; null when it does not exist. An old `"<pid>\n"` claim or one cut short is read
 * as a claim of that PID (or of no process) on this host.
 *
 * @example
 * ```ts
 * import { readClaim } from "./claims.ts";
 * const claim = readClaim("results/quick/.claims/lstm_koppen_s0");
 * console.log(claim ? `held by ${claim.pid} on ${claim.host}` : "free");
 * ```
 */
export function readClaim(path: string): Claim | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const parsed = ClaimSchema.safeParse((() => {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  })());
  if (parsed.success) return parsed.data;
  // an old "<pid>\n" claim, or one cut short: treat its PID (if any) as the claimer on this host
  const pid = Number.parseInt(text, 10);
  const epoch = new Date(0).toISOString();
  return {
    unit: "",
    pid: Number.isFinite(pid) ? pid : -1,
    host: hostname(),
    startedAt: epoch,
    heartbeat: epoch,
  };
}

/** A claim held by this process: refresh it while the unit runs, then release or keep it. */
export interface HeldClaim {
  path: string;
  /** The dead claim this one took over, in words, or null. */
  tookOver: string | null;
  /** Stop the heartbeat and remove the claim file (the unit is done). */
  release(): Promise<void>;
  /** Stop the heartbeat and leave the file (a failed unit: a re-run takes it over). */
  stop(): void;
}

function newClaim(unit: string): Claim {
  const now = new Date().toISOString();
  return { unit, pid: Deno.pid, host: hostname(), startedAt: now, heartbeat: now };
}

/** Create the claim file with its full contents at once (a temp file hard-linked into place). */
async function createClaim(path: string, claim: Claim): Promise<boolean> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.new`;
  await Deno.writeTextFile(tmp, JSON.stringify(claim) + "\n");
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Whether a claim read from disk is `mine` (same process, host and start), whatever its heartbeat. */
function isMine(claim: Claim | null, mine: Claim): boolean {
  return claim !== null && claim.pid === mine.pid && claim.host === mine.host &&
    claim.startedAt === mine.startedAt;
}

/** A takeover lock left by a process that died holding it is removed after this long. */
const LOCK_STALE_MS = 60_000;

/**
 * Take the takeover lock `lock` (mkdir is atomic); false when another process holds it. A lock
 * older than {@link LOCK_STALE_MS} was left by a process that died inside the (millisecond) takeover
 * and would block the unit forever: it is removed and taken.
 */
async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.mkdir(lock);
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let age = 0;
    try {
      age = Date.now() - (Deno.statSync(lock).mtime?.getTime() ?? Date.now());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      continue; // released meanwhile: try again
    }
    if (age <= LOCK_STALE_MS) return false;
    await Deno.remove(lock).catch(() => {});
  }
  return false;
}

/**
 * Claim unit `id` in `dir`: create the claim file exclusively, or take over a dead claim. Returns
 * the held claim (its heartbeat running) or null when a live claimer has it.
 *
 * @example
 * ```ts ignore
 * const held = await claimUnit("results/quick/.claims", "lstm_koppen_s0");
 * if (held) { try { await run(); await held.release(); } catch { held.stop(); } }
 * ```
 */
export async function claimUnit(
  dir: string,
  id: string,
  options: ClaimTiming = {},
): Promise<HeldClaim | null> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, id);
  const mine = newClaim(id);
  let tookOver: string | null = null;
  if (!(await createClaim(path, mine))) {
    const existing = readClaim(path);
    const dead = existing ? claimDeadReason(existing, options) : "gone";
    if (dead === null) return null;
    // take over under a lock (mkdir is atomic), re-checking that the claim is still the dead one
    const lock = `${path}.takeover`;
    if (!(await takeLock(lock))) return null;
    try {
      const again = readClaim(path);
      if (again && JSON.stringify(again) !== JSON.stringify(existing)) return null;
      await Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      if (!(await createClaim(path, mine))) return null;
      tookOver = dead;
    } finally {
      await Deno.remove(lock).catch(() => {});
    }
  }
  let beating = true;
  let pending: Promise<void> = Promise.resolve(); // the heartbeat write in flight
  const timer = setInterval(() => {
    pending = pending.then(async () => {
      if (!beating) return;
      // a claim another process took over (e.g. after a heartbeat delayed past staleMs) is
      // theirs: stop refreshing rather than overwrite it
      if (!isMine(readClaim(path), mine)) return stop();
      const claim = { ...mine, heartbeat: new Date().toISOString() };
      await writeFileAtomic(path, JSON.stringify(claim) + "\n");
    }).catch(() => {});
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  Deno.unrefTimer(timer);
  const stop = () => {
    beating = false;
    clearInterval(timer);
  };
  return {
    path,
    tookOver,
    stop,
    release: async () => {
      stop();
      await pending; // a write in flight would put the file back
      if (!isMine(readClaim(path), mine)) return; // taken over by another process: theirs
      await Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    },
  };
}

/**
 * In a worker: exit (code 130) as soon as the parent is gone. Watches stdin, which the parent
 * must give as a pipe (it closes when the parent dies, even by SIGKILL), and polls the parent's
 * PID (every 3 s). Call {@link Deno.exit} at the end of the worker, as the stdin watch keeps it alive.
 *
 * @example
 * ```ts ignore
 * if (isWorker) exitWithParent();
 * ```
 */
export function exitWithParent(options: { pollMs?: number } = {}): void {
  const parent = Deno.ppid;
  const leave = (why: string) => {
    console.error(`worker ${Deno.pid}: ${why}; exiting`);
    Deno.exit(130);
  };
  (async () => {
    const buf = new Uint8Array(256);
    try {
      while ((await Deno.stdin.read(buf)) !== null) {
        // the parent never writes; anything read is ignored
      }
    } catch {
      // a closed or broken pipe: the parent is gone too
    }
    leave("stdin closed (the parent process is gone)");
  })();
  const timer = setInterval(() => {
    if (!pidAlive(parent)) leave(`the parent process ${parent} is gone`);
  }, options.pollMs ?? 3000);
  Deno.unrefTimer(timer);
}

/** How supervised workers ended. */
export interface SupervisedResult {
  statuses: Deno.CommandStatus[];
  /** The signal that interrupted the parent (forwarded to the workers), or null. */
  signal: "SIGINT" | "SIGTERM" | null;
}

/** Options of {@link superviseWorkers}. */
export interface SuperviseOptions {
  /** The task named in the message on a signal (default "reproduce"). */
  task?: string;
  /** Called on the first signal, after it was forwarded (e.g. to start no further worker). */
  onSignal?: (signal: "SIGINT" | "SIGTERM") => void;
}

/**
 * In the parent: forward SIGINT and SIGTERM to every worker and wait for all of them. The workers
 * must have been spawned with `stdin: "piped"` (see {@link exitWithParent}); their stdin stays open
 * until they exit. `children` is read at each signal, so a pool may add workers to it later.
 *
 * @example
 * ```ts ignore
 * const { statuses, signal } = await superviseWorkers(children, done);
 * if (signal) Deno.exit(130);
 * ```
 */
export async function superviseWorkers(
  children: readonly Deno.ChildProcess[],
  finished: Promise<Deno.CommandStatus[]>,
  options: SuperviseOptions = {},
): Promise<SupervisedResult> {
  let signal: SupervisedResult["signal"] = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const handler = () => {
      const first = signal === null;
      signal ??= sig;
      console.error(`${options.task ?? "reproduce"}: ${sig}: stopping the workers, then exiting`);
      for (const child of children) {
        try {
          child.kill(sig);
        } catch {
          // already exited
        }
      }
      if (first) options.onSignal?.(sig);
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  try {
    const statuses = await finished;
    return { statuses, signal };
  } finally {
    for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  }
}
