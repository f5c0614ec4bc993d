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
import { join } from "node:path";
import { claimFile, type ClaimTiming, type HeldClaim, pidAlive } from "../data/claims.ts";

export {
  type Claim,
  claimDeadReason,
  ClaimSchema,
  type ClaimTiming,
  type HeldClaim,
  pidAlive,
  readClaim,
} from "../data/claims.ts";

/**
 * Claim unit `id` in `dir`: create the claim file `<dir>/<id>` exclusively, or take over a dead
 * claim (lib/data/claims.ts). Returns the held claim (its heartbeat running) or null when a live
 * claimer has it.
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
  return await claimFile(join(dir, id), { ...options, name: id });
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
