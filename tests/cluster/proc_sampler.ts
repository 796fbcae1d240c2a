/**
 * What an agent process costs through a datastore outage, read from /proc
 * (tests/etcd_outage_test.ts, tests/datastore_outage_test.ts): its TCP
 * sockets to the datastore's port (the etcd client once opened hundreds of
 * connections while etcd was away) and its resident set size, sampled in
 * the background. Reads only; nothing here changes the processes.
 * @module
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * TCP sockets of process `pid` whose remote port is `port` (any state but
 * LISTEN): its fds matched against its namespace's /proc/<pid>/net/tcp{,6}.
 */
export async function socketsTo(pid: number, port: number): Promise<number> {
  const inodes = new Set<string>();
  for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
    const link = await Deno.readLink(`/proc/${pid}/fd/${e.name}`).catch(() => "");
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const table of ["tcp", "tcp6"]) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${table}`).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [remote, state, inode] = [f[2]!, f[3]!, f[9]!];
      if (remote.endsWith(`:${hex}`) && state !== "0A" && inodes.has(inode)) n++;
    }
  }
  return n;
}

/** Resident set size of `pid` in MiB (VmRSS), undefined once it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
}

/** One process's figures over a `ProcSampler`'s life. */
export interface ProcFigures {
  samples: number;
  maxSockets: number;
  /** RSS (MiB) at the first sample, the highest and at the last. */
  rssFirst: number;
  rssMax: number;
  rssLast: number;
}

/**
 * Samples, every `everyMs` (default 200), the sockets to `port` and the RSS
 * of each process `pids()` names (label -> pid, read at every sample so a
 * restarted process can be left out by the caller) until stopped.
 */
export class ProcSampler {
  #on = true;
  readonly #figures = new Map<string, ProcFigures>();
  readonly #loop: Promise<void>;

  constructor(
    pids: () => Record<string, number>,
    opts: {
      port: number;
      everyMs?: number; /** Called when a process's socket count changes. */
      onChange?: (label: string, n: number) => void;
    },
  ) {
    const last = new Map<string, number>();
    this.#loop = (async () => {
      while (this.#on) {
        for (const [label, pid] of Object.entries(pids())) {
          const [sockets, rss] = await Promise.all([
            socketsTo(pid, opts.port).catch(() => 0),
            rssMiB(pid),
          ]);
          if (rss === undefined) continue;
          if (sockets !== (last.get(label) ?? 0)) opts.onChange?.(label, sockets);
          last.set(label, sockets);
          const f = this.#figures.get(label);
          if (!f) {
            const first = { samples: 1, maxSockets: sockets, rssFirst: rss, rssMax: rss };
            this.#figures.set(label, { ...first, rssLast: rss });
            continue;
          }
          f.samples++;
          f.maxSockets = Math.max(f.maxSockets, sockets);
          f.rssMax = Math.max(f.rssMax, rss);
          f.rssLast = rss;
        }
        await sleep(opts.everyMs ?? 200);
      }
    })();
  }

  /** Ends the loop after its current sample; the figures by label. */
  async stop(): Promise<Record<string, ProcFigures>> {
    this.#on = false;
    await this.#loop;
    return Object.fromEntries([...this.#figures].map(([k, v]) => [k, { ...v }]));
  }
}
