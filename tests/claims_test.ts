/** Claims of the work queue (lib/experiments/claims.ts): live claims are kept, dead ones taken over. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Claim, claimUnit, pidAlive, readClaim } from "../lib/experiments/claims.ts";

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("claims: PID, host and heartbeat; live kept, dead taken over, released when done", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tamflux_claims_" });
  try {
    const held = await claimUnit(dir, "a", { heartbeatMs: 20 });
    assert.ok(held);
    const first = readClaim(join(dir, "a"))!;
    assert.equal(first.pid, Deno.pid);
    assert.equal(first.host, Deno.hostname());
    await new Promise((r) => setTimeout(r, 80));
    const later = readClaim(join(dir, "a"))!;
    assert.ok(Date.parse(later.heartbeat) > Date.parse(first.heartbeat), "heartbeat refreshed");
    // a live claim (this process) is never taken
    assert.equal(await claimUnit(dir, "a"), null);
    await held.release();
    assert.equal(readClaim(join(dir, "a")), null);

    const write = (id: string, c: Partial<Claim>) =>
      Deno.writeTextFileSync(
        join(dir, id),
        JSON.stringify({
          unit: id,
          pid: Deno.pid,
          host: Deno.hostname(),
          startedAt: new Date().toISOString(),
          heartbeat: new Date().toISOString(),
          ...c,
        }),
      );
    // a dead process on this host: taken over
    const pid = await deadPid();
    assert.equal(pidAlive(pid), false);
    write("b", { pid });
    const taken = await claimUnit(dir, "b");
    assert.ok(taken);
    assert.match(taken.tookOver!, new RegExp(`process ${pid} .* is gone`));
    assert.equal(readClaim(join(dir, "b"))!.pid, Deno.pid);
    taken.stop();
    // a PID reused by another program (here: `sleep`) is not a live claim
    const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      assert.equal(pidAlive(other.pid), true);
      write("r", { pid: other.pid });
      const reused = await claimUnit(dir, "r");
      assert.ok(reused, "a claim whose PID now runs `sleep` is taken over");
      reused.stop();
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
    // another host: a fresh heartbeat is live, a stale one is dead
    write("c", { host: "elsewhere", pid: 1 });
    assert.equal(await claimUnit(dir, "c", { staleMs: 60_000 }), null);
    write("d", {
      host: "elsewhere",
      pid: 1,
      heartbeat: new Date(Date.now() - 120_000).toISOString(),
    });
    const stale = await claimUnit(dir, "d", { staleMs: 60_000 });
    assert.ok(stale);
    assert.match(stale.tookOver!, /no heartbeat from elsewhere/);
    stale.stop();
    // an old-style "<pid>\n" claim of a live process is kept
    Deno.writeTextFileSync(join(dir, "e"), `${Deno.pid}\n`);
    assert.equal(await claimUnit(dir, "e"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("claims: a claim taken over by another process is neither refreshed nor removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tamflux_claims_" });
  try {
    const held = await claimUnit(dir, "a", { heartbeatMs: 20 });
    assert.ok(held);
    // another host took it over (say, our heartbeat was late past its staleMs)
    const theirs: Claim = {
      unit: "a",
      pid: 1,
      host: "elsewhere",
      startedAt: new Date().toISOString(),
      heartbeat: new Date().toISOString(),
    };
    Deno.writeTextFileSync(join(dir, "a"), JSON.stringify(theirs));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(readClaim(join(dir, "a")), theirs, "not overwritten by our heartbeat");
    await held.release();
    assert.deepEqual(readClaim(join(dir, "a")), theirs, "not removed by our release");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("claims: a takeover lock left by a dead process does not block the unit forever", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tamflux_claims_" });
  try {
    const pid = await deadPid();
    const now = new Date().toISOString();
    const dead = { unit: "a", pid, host: Deno.hostname(), startedAt: now, heartbeat: now };
    Deno.writeTextFileSync(join(dir, "a"), JSON.stringify(dead));
    const lock = join(dir, "a.takeover");
    Deno.mkdirSync(lock);
    // a fresh lock: another process is taking over right now
    assert.equal(await claimUnit(dir, "a"), null);
    // an old one: its holder died inside the takeover
    const old = new Date(Date.now() - 3_600_000);
    Deno.utimeSync(lock, old, old);
    const held = await claimUnit(dir, "a");
    assert.ok(held, "taken over despite the stale lock");
    assert.equal(readClaim(join(dir, "a"))!.pid, Deno.pid);
    await held.release();
    assert.equal([...Deno.readDirSync(dir)].length, 0, "claim and lock gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
