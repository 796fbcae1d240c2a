/**
 * What the checks look at, each read from inside a namespace: ping, a TCP
 * question to the echo server (busybox nc), hostgate's routes (protocol 151)
 * and the packet filter rules. Convergence is polled (`until` of helpers/until.ts, `pingOk`
 * with retries), never waited for with a blind sleep.
 * @module
 */
import assert from "node:assert/strict";
import { run, sh } from "../helpers/netns.ts";

/** One ping (1 s timeout) from inside `netns`; true when a reply came. */
export async function pingOnce(netns: string, ip: string): Promise<boolean> {
  const r = await run(["ip", "netns", "exec", netns, "ping", "-n", "-q", "-c1", "-W1", ip]);
  return r.code === 0;
}

/** Pings until a reply comes, up to `tries` (default 5) times: routes may still be converging. */
export async function pingOk(
  netns: string,
  ip: string,
  opts: { tries?: number } = {},
): Promise<boolean> {
  for (let i = 0; i < (opts.tries ?? 5); i++) {
    if (await pingOnce(netns, ip)) return true;
  }
  return false;
}

/** Where `askPeer` connects to. */
export interface PeerTarget {
  ip: string;
  port: number;
  /** Connect and read timeout in seconds (default 2). */
  timeoutS?: number;
  /** Attempts, for `askPeerRetry` (default 3). */
  tries?: number;
}

/**
 * Connects from `netns` to ip:port and returns the first line the server
 * sends (the echo server answers with the peer address it saw), or
 * undefined when nothing answered within the timeout.
 */
export async function askPeer(netns: string, to: PeerTarget): Promise<string | undefined> {
  const { ip, port } = to;
  const timeoutS = to.timeoutS ?? 2;
  const r = await run([
    "ip",
    "netns",
    "exec",
    netns,
    "busybox",
    "nc",
    "-w",
    String(timeoutS),
    ip,
    String(port),
  ]);
  const line = r.stdout.trim().split("\n")[0] ?? "";
  return r.code === 0 && line !== "" ? line : undefined;
}

/** askPeer with retries, for a freshly started server or converging routes. */
export async function askPeerRetry(netns: string, to: PeerTarget): Promise<string | undefined> {
  for (let i = 0; i < (to.tries ?? 3); i++) {
    const a = await askPeer(netns, to);
    if (a !== undefined) return a;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** One hostgate route as `ip -j route` shows it. */
export interface HgRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** hostgate's routes in `netns` (protocol 151), sorted. */
export async function hostgateRoutes(netns: string): Promise<HgRoute[]> {
  const r = await run(["ip", "-n", netns, "-j", "route", "show", "proto", "151"]);
  if (r.code !== 0) throw new Error(`Cannot list routes of ${netns}: ${r.stderr.trim()}`);
  const list = JSON.parse(r.stdout || "[]") as HgRoute[];
  return list.map((x) => ({ dst: x.dst, gateway: x.gateway, dev: x.dev }))
    .sort((a, b) => a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0);
}

/** The routes as "dst via gw" strings. */
export async function routeLines(netns: string): Promise<string[]> {
  return (await hostgateRoutes(netns)).map((r) => `${r.dst} via ${r.gateway ?? "-"}`);
}

/** `ip route show proto 151` as text, for the demo printout. */
export async function routeText(netns: string): Promise<string> {
  const r = await run(["ip", "-n", netns, "route", "show", "proto", "151"]);
  return r.stdout.trimEnd();
}

/** iptables-save of both backends (legacy and nft) in `netns`, concatenated. */
export async function rulesIn(netns: string): Promise<string> {
  const [nft, legacy] = await Promise.all([
    run(["ip", "netns", "exec", netns, "iptables-nft-save"]),
    run(["ip", "netns", "exec", netns, "iptables-legacy-save"]),
  ]);
  return nft.stdout + legacy.stdout;
}

/** Count of lines of `text` matching `re`. */
export function countMatches(text: string, re: RegExp): number {
  return text.split("\n").filter((l) => re.test(l)).length;
}

/**
 * GET of an http URL from inside `netns`; the body when the status is 200,
 * else undefined. Speaks HTTP/1.0 through busybox nc (busybox's own wget
 * crashes on this machine's static build).
 */
export async function httpGet(netns: string, url: string): Promise<string | undefined> {
  const u = new URL(url);
  const r = await run(
    ["ip", "netns", "exec", netns, "busybox", "nc", "-w", "2", u.hostname, u.port || "80"],
    { stdin: `GET ${u.pathname}${u.search} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n` },
  );
  const [head, ...body] = r.stdout.split("\r\n\r\n");
  if (!/^HTTP\/1\.[01] 200 /.test(head ?? "")) return undefined;
  return body.join("\r\n\r\n");
}

/** Link names inside `netns`, sorted. */
export async function linksIn(netns: string): Promise<string[]> {
  const r = await run(["ip", "-n", netns, "-j", "link", "show"]);
  if (r.code !== 0) throw new Error(`Cannot list links of ${netns}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
}

/**
 * IP reservation files under an IPAM data dir (host-local layout: one file
 * per address in use, named by the address), sorted.
 */
export async function ipamFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (/^[0-9a-f.:]+$/i.test(e.name) && /[.:]/.test(e.name)) out.push(e.name);
    }
  };
  await walk(dir).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return out.sort();
}

/**
 * Links of the root namespace with names a cluster topology or the plugin
 * could give (switch ports, uplinks, pod veths "hg...", bridges), read only:
 * suites compare them before and after to prove the root netns untouched.
 */
export async function rootLinks(): Promise<string[]> {
  const out = await sh(["ip", "-j", "link", "show"]);
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname)
    .filter((n) => /^(p-|hg|hostgate|br0$|eth\d)/.test(n)).sort();
}

/** Pings that must all answer, in parallel; the failing pairs in the message. */
export async function allPing(pairs: [label: string, netns: string, ip: string][]): Promise<void> {
  const ok = await Promise.all(pairs.map(([, ns, ip]) => pingOk(ns, ip)));
  const bad = pairs.filter((_, i) => !ok[i]).map(([l]) => l);
  assert.deepEqual(bad, [], `no reply: ${bad.join(", ")}`);
}

/** Runs `fns` with at most `limit` in flight; results in input order. */
export async function pool<T>(limit: number, fns: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  const worker = async () => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, worker));
  return out;
}
