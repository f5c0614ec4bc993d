/**
 * A reproduction profile as Kubernetes Jobs: an Indexed Job (`completionMode: Indexed`) of N
 * completions, each running shard `$JOB_COMPLETION_INDEX/N` of the plan over a shared
 * PersistentVolumeClaim mounted at the project's `results/`, and a tables Job to apply once the
 * indexed Job has completed. Manifests are plain objects (written as JSON, which is valid YAML).
 *
 * @module
 */

/** What the manifests need. */
export interface K8sOptions {
  /** Profile name or path, as `reproduce --profile` takes it. */
  profile: string;
  /** Run name (`results/<run>/`). */
  run: string;
  /** Completions (shards). */
  completions: number;
  /** Pods at once (default: all completions). */
  parallelism?: number;
  /** Container image holding the project (deno, node_modules, code). */
  image: string;
  /** The project folder inside the image (default `/tamflux`). */
  workdir?: string;
  /** PersistentVolumeClaim (ReadWriteMany) holding the results, shared by all pods. */
  pvc: string;
  /** Optional claim with the FLUXNET2015 data, mounted read-only at `/data` (TAMFLUX_DATA). */
  dataPvc?: string;
  /** Memory request and limit per pod (default `4Gi`). */
  memory?: string;
  /** Retries per index before the index fails (default 2). */
  backoffLimitPerIndex?: number;
}

/** A Kubernetes manifest (only the fields we write). */
export type Manifest = Record<string, unknown>;

function podSpec(o: K8sOptions, name: string, script: string): Manifest {
  const workdir = o.workdir ?? "/tamflux";
  const memory = o.memory ?? "4Gi";
  const env = [
    { name: "DENO_TLS_CA_STORE", value: "system" },
    { name: "NO_COLOR", value: "1" },
    ...(o.dataPvc ? [{ name: "TAMFLUX_DATA", value: "/data" }] : []),
  ];
  const mounts = [
    { name: "results", mountPath: `${workdir}/results` },
    ...(o.dataPvc ? [{ name: "data", mountPath: "/data", readOnly: true }] : []),
  ];
  const volumes = [
    { name: "results", persistentVolumeClaim: { claimName: o.pvc } },
    ...(o.dataPvc
      ? [{ name: "data", persistentVolumeClaim: { claimName: o.dataPvc, readOnly: true } }]
      : []),
  ];
  return {
    restartPolicy: "Never",
    containers: [{
      name,
      image: o.image,
      workingDir: workdir,
      command: ["sh", "-c", script],
      env,
      resources: {
        requests: { cpu: "1", memory },
        limits: { cpu: "1", memory },
      },
      volumeMounts: mounts,
    }],
    volumes,
  };
}

/**
 * The Indexed Job of the shards and the tables Job of a run.
 *
 * @example
 * ```ts
 * import { k8sManifests } from "./k8s.ts";
 * const { reproduce } = k8sManifests({
 *   profile: "paper", run: "paper", completions: 40, image: "ghcr.io/me/tamflux", pvc: "results",
 * });
 * (reproduce.spec as { completionMode: string }).completionMode; // "Indexed"
 * ```
 */
export function k8sManifests(o: K8sOptions): { reproduce: Manifest; tables: Manifest } {
  if (!Number.isInteger(o.completions) || o.completions < 1) {
    throw new Error(`tamflux k8s: completions must be a positive integer, not ${o.completions}`);
  }
  const parallelism = o.parallelism ?? o.completions;
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new Error(`tamflux k8s: parallelism must be a positive integer, not ${parallelism}`);
  }
  // a DNS label: lower-case alphanumerics and '-', starting and ending alphanumeric
  const run = o.run.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") || "run";
  const name = `tamflux-${run}`;
  const labels = { app: "tamflux", "tamflux/run": run };
  const profile = `'${o.profile.replaceAll("'", `'\\''`)}'`;
  const reproduce: Manifest = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `${name}-reproduce`, labels },
    spec: {
      completionMode: "Indexed",
      completions: o.completions,
      parallelism,
      backoffLimitPerIndex: o.backoffLimitPerIndex ?? 2,
      template: {
        metadata: { labels },
        spec: podSpec(
          o,
          "reproduce",
          `exec deno task reproduce --profile ${profile} --run ${o.run} ` +
            `--shard "$JOB_COMPLETION_INDEX/${o.completions}" --no-tables`,
        ),
      },
    },
  };
  const tables: Manifest = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `${name}-tables`, labels },
    spec: {
      backoffLimit: 1,
      template: {
        metadata: { labels },
        spec: podSpec(o, "tables", `exec deno task tables --run ${o.run}`),
      },
    },
  };
  return { reproduce, tables };
}
