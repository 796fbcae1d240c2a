/**
 * `deno task bundle`: writes dist/bundle/hostgate and dist/bundle/hostgate-agent,
 * each one executable JavaScript file whose shebang runs it with this deno and
 * the same narrow permissions `deno task compile` bakes in. A runtime calls it
 * exactly like a binary; the tests and the demo run these files.
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
  const js = `${outDir}${target.name}.js`;
  const out = await new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      // Not --keep-names: with it deno bundle drops its createRequire shim (require undefined).
      ...(target.minify ? ["--minify"] : []),
      "--output",
      js,
      entry,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle ${target.entry}: deno bundle exited ${out.code}`);
  }
  const body = await Deno.readTextFile(js);
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
  await Deno.remove(js);
  if (target.codeCacheDir) await warmCodeCache(final);
  console.error(`bundle: ${final}`);
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
 * Runs the new bundle once (VERSION) so Deno stores its code cache before
 * the first real call; the plugin's first ADD then pays no compilation. A
 * copy installed elsewhere gets its own entry on its first call. Failure
 * only costs that first call its speed, so it is reported, not fatal.
 */
async function warmCodeCache(path: string): Promise<void> {
  const out = await new Deno.Command(path, {
    env: { CNI_COMMAND: "VERSION" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(`bundle: cannot warm the code cache of ${path}: exit ${out.code}`);
  }
}
