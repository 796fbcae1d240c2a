/**
 * `deno task bundle`: writes dist/bundle/hostgate and dist/bundle/hostgate-agent,
 * each an executable JavaScript file whose shebang runs it with this deno and
 * the same narrow permissions `deno task compile` bakes in (the plugin's
 * per-command programs go to dist/bundle/hostgate.programs/). A runtime
 * calls it exactly like a binary; the tests and the demo run these files. A
 * target with `split` also gets `<name>.chunks/`: the modules it imports
 * dynamically (the agent's datastore backends), loaded from there only when
 * used.
 * @module
 */
import { ENTRY_POINTS, permissionFlags, type Target, v8FlagArgs } from "./targets.ts";

/** Deno's one-letter permission flags: the shebang line has 255 bytes, the path of deno is long. */
const SHORT_FLAGS: Record<string, string> = {
  "--allow-read": "-R",
  "--allow-write": "-W",
  "--allow-env": "-E",
  "--allow-net": "-N",
  "--allow-sys": "-S",
};

const outDir = new URL("../../dist/bundle/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });
const deno = Deno.execPath();

for (const target of ENTRY_POINTS) {
  const entry = new URL(`../../${target.entry}`, import.meta.url).pathname;
  const chunks = `${target.name}.chunks`;
  const tmpDir = await Deno.makeTempDir({ dir: outDir, prefix: `.${target.name}-` });
  await Deno.chmod(tmpDir, 0o755);
  let body: string;
  try {
    body = target.programs
      ? await bundleWithPrograms(target, entry)
      : target.split
      ? await bundleSplit(target, entry, tmpDir)
      : await bundleOne(target, entry);
    if (target.split) {
      // Chunks first (the old program keeps its old chunk names until replaced below).
      await Deno.remove(`${outDir}${chunks}`, { recursive: true }).catch(() => {});
      await Deno.rename(tmpDir, `${outDir}${chunks}`);
    }
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
  const flags = [
    "run",
    "--no-config",
    "--no-lock",
    "--ext=js",
    ...v8FlagArgs(target),
    ...permissionFlags(target).map((f) => SHORT_FLAGS[f] ?? f),
  ];
  const shebang = shebangLine(target, [deno, ...flags]);
  const final = `${outDir}${target.name}`;
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, shebang + body.replace(/^#!.*\n/, ""), { mode: 0o755 });
  await Deno.chmod(tmp, 0o755);
  await Deno.rename(tmp, final);
  if (target.codeCacheDir) await warmCodeCache(final);
  console.error(`bundle: ${final}${target.split ? ` (+ ${chunks}/)` : ""}`);
}

async function denoBundle(target: Target, args: string[]): Promise<void> {
  const out = await new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      // Not --keep-names: with it deno bundle drops its createRequire shim (require undefined).
      ...(target.minify ? ["--minify"] : []),
      ...args,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle ${target.entry}: deno bundle exited ${out.code}`);
  }
}

/**
 * The entry with what it imports dynamically in chunk files, which move to
 * `<name>.chunks/` beside it (the caller renames `dir` there); returns the
 * entry's text, its imports pointed at that directory.
 */
async function bundleSplit(target: Target, entry: string, dir: string): Promise<string> {
  await denoBundle(target, ["--code-splitting", "--outdir", dir, entry]);
  const js = `${dir}/${entry.split("/").pop()!.replace(/\.ts$/, ".js")}`;
  const chunks = `${target.name}.chunks`;
  const body = (await Deno.readTextFile(js)).replace(
    /(["'])\.\/([\w.-]+\.js)\1/g,
    (_m, q: string, file: string) => `${q}./${chunks}/${file}${q}`,
  );
  await Deno.remove(js);
  return body;
}

/** One file holding the whole program; returns its text. */
async function bundleOne(target: Target, entry: string): Promise<string> {
  const js = `${outDir}${target.name}.js`;
  await denoBundle(target, ["--output", js, entry]);
  const body = await Deno.readTextFile(js);
  await Deno.remove(js);
  return body;
}

/**
 * The entry bundled with its programs (`target.programs`, imported by the
 * entry as `./<dir>/<name>.ts`) left out, and each program bundled on its
 * own into `<name>.programs/`: one self-contained file per command, so a
 * call loads two files, the entry and its command's program (Deno's dynamic
 * import costs per module it brings in, so fewer, whole files are faster
 * than shared chunks). The entry names them by absolute file URL, like its
 * shebang names deno: a copy installed into a CNI bin directory still finds
 * them. File names carry a content hash, so a rebuild never changes a file
 * an installed copy uses; program files no build made within a day go.
 */
async function bundleWithPrograms(target: Target, entry: string): Promise<string> {
  const dir = target.programs!;
  const rel = `./${dir.slice(dir.lastIndexOf("/") + 1)}/`;
  const progDir = `${outDir}${target.name}.programs`;
  await Deno.mkdir(progDir, { recursive: true });
  const js = `${outDir}.${target.name}-entry-${Deno.pid}.js`;
  await denoBundle(target, ["--external", `${rel}*`, "--output", js, entry]);
  let body = await Deno.readTextFile(js);
  await Deno.remove(js);
  const made = new Set<string>();
  const srcDir = new URL(`../../${dir}/`, import.meta.url).pathname;
  for await (const e of Deno.readDir(srcDir)) {
    if (!e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    const tmp = `${progDir}/.${e.name}.tmp-${Deno.pid}.js`;
    await denoBundle(target, ["--output", tmp, `${srcDir}${e.name}`]);
    const text = await Deno.readTextFile(tmp);
    const hash = await sha256Hex(text);
    const name = `${e.name.replace(/\.ts$/, "")}-${hash.slice(0, 12)}.js`;
    await Deno.rename(tmp, `${progDir}/${name}`);
    made.add(name);
    const url = new URL(`file://${progDir}/${name}`).href;
    // `import(String(url))`, not `import(url)`: Deno loads and analyses every
    // literal dynamic import of the main module at start-up (all programs: 4 ms
    // of a VERSION, measured), a computed one only when it runs.
    body = body.replaceAll(
      `import(${JSON.stringify(`${rel}${e.name}`)})`,
      `import(String(${JSON.stringify(url)}))`,
    );
  }
  if (body.includes(rel)) {
    throw new Error(`Cannot bundle ${target.name}: the entry still imports ${rel}`);
  }
  await pruneOld(progDir, made);
  return body;
}

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function pruneOld(dir: string, keep: Set<string>): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (keep.has(e.name)) {
      // A file this build uses again is as new as the build.
      const now = new Date();
      await Deno.utime(path, now, now);
      continue;
    }
    const st = await Deno.stat(path);
    if ((st.mtime?.getTime() ?? 0) < dayAgo) await Deno.remove(path);
  }
}

/**
 * The first line of a bundle: env runs deno with the flags, after setting
 * DENO_DIR when the target has a cache directory. Linux reads at most 255
 * bytes of it (BINPRM_BUF_SIZE) and cuts the rest silently, so a longer line
 * is an error here rather than a broken plugin later.
 */
function shebangLine(target: Target, argv: string[]): string {
  const vars = target.codeCacheDir ? [`DENO_DIR=${target.codeCacheDir}`] : [];
  const line = `#!/usr/bin/env -S ${[...vars, ...argv].join(" ")}`;
  if (new TextEncoder().encode(line).length > 255) {
    throw new Error(
      `Cannot bundle ${target.name}: its shebang is longer than the 255 bytes Linux reads (${line})`,
    );
  }
  return line + "\n";
}

/**
 * Runs the new bundle once per command (VERSION, then the others with no
 * container, which they refuse before doing anything) so Deno stores the
 * code cache of the entry and of every program before the first real call.
 * A copy installed elsewhere gets its entry's on its first call. Failure only
 * costs that first call its speed, so it is reported, not fatal.
 */
async function warmCodeCache(path: string): Promise<void> {
  for (const command of ["VERSION", "ADD", "DEL", "CHECK", "GC", "STATUS"]) {
    const out = await new Deno.Command(path, {
      env: { CNI_COMMAND: command },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (command === "VERSION" && !out.success) {
      console.error(`bundle: cannot warm the code cache of ${path}: exit ${out.code}`);
    }
  }
}
