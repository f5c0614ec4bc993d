import assert from "node:assert/strict";
import { slurmScripts, submitSlurm } from "../lib/experiments/slurm.ts";
import { k8sManifests } from "../lib/experiments/k8s.ts";

const base = {
  root: "/home/me/tamflux",
  profile: "paper",
  run: "paper",
  tasks: 40,
  time: "06:00:00",
};

function directives(script: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of script.matchAll(/^#SBATCH --([a-z-]+)(?:=(.*))?$/gm)) out.set(m[1], m[2] ?? "");
  return out;
}

Deno.test("slurm: the array runs shard $SLURM_ARRAY_TASK_ID/N of the profile on one CPU per task", () => {
  const { reproduce } = slurmScripts({ ...base, mem: "4G", partition: "short" });
  assert.ok(reproduce.startsWith("#!/bin/bash\n"));
  const d = directives(reproduce);
  assert.equal(d.get("array"), "0-39");
  assert.equal(d.get("cpus-per-task"), "1");
  assert.equal(d.get("ntasks"), "1");
  assert.equal(d.get("time"), "06:00:00");
  assert.equal(d.get("mem"), "4G");
  assert.equal(d.get("partition"), "short");
  assert.equal(d.get("chdir"), "/home/me/tamflux");
  assert.equal(d.get("output"), "/home/me/tamflux/results/paper/logs/reproduce_%A_%a.out");
  assert.match(reproduce, /^export DENO_TLS_CA_STORE=system NO_COLOR=1$/m);
  const cmd = reproduce.split("\n").filter((l) => l.startsWith("exec "));
  assert.deepEqual(cmd, [
    'exec deno task reproduce --profile paper --run paper --shard "$SLURM_ARRAY_TASK_ID/40" --no-tables',
  ]);
  // every directive comes before the first command (sbatch stops reading them there)
  const lines = reproduce.split("\n");
  const lastDirective = lines.findLastIndex((l) => l.startsWith("#SBATCH"));
  const firstCommand = lines.findIndex((l, i) => i > 0 && l && !l.startsWith("#"));
  assert.ok(lastDirective < firstCommand);
});

Deno.test("slurm: no --mem or --partition unless given; the tables job merges the run", () => {
  const { reproduce, tables } = slurmScripts({ ...base, deno: "/opt/deno bin/deno" });
  assert.equal(directives(reproduce).has("mem"), false);
  assert.equal(directives(reproduce).has("partition"), false);
  const d = directives(tables);
  assert.equal(d.has("array"), false);
  assert.equal(d.get("cpus-per-task"), "1");
  assert.equal(d.get("job-name"), "tamflux-paper-tables");
  assert.match(tables, /^exec '\/opt\/deno bin\/deno' task tables --run paper$/m);
});

Deno.test("slurm: bad sizes, times and run names are refused", () => {
  assert.throws(() => slurmScripts({ ...base, tasks: 0 }), /positive integer/);
  assert.throws(() => slurmScripts({ ...base, time: "6h" }), /--time/);
  assert.throws(() => slurmScripts({ ...base, run: "a b" }), /--run/);
  assert.doesNotThrow(() => slurmScripts({ ...base, time: "2-00:00:00" }));
});

Deno.test("slurm: submit sends the array, then the tables job after it; refuses while jobs live", async () => {
  const calls: string[] = [];
  const queue: Record<string, string> = {};
  const exec = (cmd: string, args: string[]) => {
    calls.push([cmd, ...args].join(" "));
    if (cmd === "squeue") return Promise.resolve(queue[args[2]] ?? "");
    if (cmd === "scancel") return Promise.resolve("");
    return Promise.resolve(args.some((a) => a.startsWith("--dependency")) ? "102" : "101;cl");
  };
  const files = { reproduce: "r.sbatch", tables: "t.sbatch" };
  assert.deepEqual(await submitSlurm(files, { run: "x", exec }), { array: "101", tables: "102" });
  assert.ok(calls.includes("sbatch --parsable r.sbatch"));
  assert.ok(calls.includes("sbatch --parsable --dependency=afterok:101 t.sbatch"));
  // a stale tables job that can never start is cancelled before submitting again
  calls.length = 0;
  queue["tamflux-x-tables"] = "102 DependencyNeverSatisfied";
  await submitSlurm(files, { run: "x", exec });
  assert.ok(calls.includes("scancel 102"));
  // a live array: refuse
  queue["tamflux-x"] = "101_1 RUNNING";
  await assert.rejects(() => submitSlurm(files, { run: "x", exec }), /still queued or running/);
});

Deno.test("slurm: when the tables job cannot be submitted, the error names the queued array", async () => {
  const exec = (cmd: string, args: string[]) => {
    if (cmd === "squeue") return Promise.resolve("");
    if (args.some((a) => a.startsWith("--dependency"))) {
      return Promise.reject(new Error("sbatch: error: Batch job submission failed"));
    }
    return Promise.resolve("101");
  };
  const files = { reproduce: "r.sbatch", tables: "t.sbatch" };
  await assert.rejects(
    () => submitSlurm(files, { run: "x", exec }),
    /submission failed\narray job 101 was submitted .*sbatch --dependency=afterok:101 t\.sbatch/s,
  );
});

type Obj = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Obj)[k as string], o);

Deno.test("k8s: an Indexed Job of N completions over a shared results claim, and a tables Job", () => {
  const { reproduce, tables } = k8sManifests({
    profile: "paper",
    run: "paper_v1",
    completions: 40,
    parallelism: 8,
    image: "ghcr.io/me/tamflux:1",
    pvc: "results-rwx",
    dataPvc: "fluxnet",
  });
  // JSON round trip: what is written is what kubectl reads
  const r = JSON.parse(JSON.stringify(reproduce));
  assert.equal(r.apiVersion, "batch/v1");
  assert.equal(r.kind, "Job");
  assert.equal(r.spec.completionMode, "Indexed");
  assert.equal(r.spec.completions, 40);
  assert.equal(r.spec.parallelism, 8);
  assert.match(r.metadata.name, /^[a-z0-9-]+$/);
  const pod = r.spec.template.spec;
  assert.equal(pod.restartPolicy, "Never");
  const c = pod.containers[0];
  assert.equal(c.image, "ghcr.io/me/tamflux:1");
  assert.equal(c.command[0], "sh");
  assert.match(c.command[2], /--shard "\$JOB_COMPLETION_INDEX\/40" --no-tables$/);
  assert.match(c.command[2], /^exec deno task reproduce --profile 'paper' --run paper_v1 /);
  assert.equal(c.resources.requests.cpu, "1");
  const results = c.volumeMounts.find((m: Obj) => m.name === "results");
  assert.equal(results.mountPath, `${c.workingDir}/results`);
  const vol = pod.volumes.find((v: Obj) => v.name === "results");
  assert.equal(vol.persistentVolumeClaim.claimName, "results-rwx");
  assert.ok(c.env.some((e: Obj) => e.name === "TAMFLUX_DATA" && e.value === "/data"));
  assert.ok(c.env.some((e: Obj) => e.name === "DENO_TLS_CA_STORE" && e.value === "system"));
  // the tables Job: no index, same claim, `deno task tables`
  assert.equal(at(tables, "spec", "completionMode"), undefined);
  assert.match(
    String(at(tables, "spec", "template", "spec", "containers", 0, "command", 2)),
    /deno task tables --run paper_v1$/,
  );
  assert.equal(
    at(tables, "spec", "template", "spec", "volumes", 0, "persistentVolumeClaim", "claimName"),
    "results-rwx",
  );
});

Deno.test("k8s: parallelism defaults to the completions; bad counts are refused", () => {
  const m = k8sManifests({ profile: "smoke", run: "s", completions: 3, image: "i", pvc: "p" });
  assert.equal(at(m.reproduce, "spec", "parallelism"), 3);
  assert.equal((at(m.reproduce, "spec", "template", "spec", "volumes") as unknown[]).length, 1);
  assert.throws(() =>
    k8sManifests({ profile: "s", run: "s", completions: 0, image: "i", pvc: "p" })
  );
});

Deno.test("k8s: a run name that starts or ends with '_' still gives valid DNS labels", () => {
  const m = k8sManifests({ profile: "smoke", run: "_Test_", completions: 2, image: "i", pvc: "p" });
  const meta = m.reproduce.metadata as { name: string; labels: Record<string, string> };
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  assert.match(meta.name, label);
  assert.match(meta.labels["tamflux/run"], label);
});
