/**
 * `deno task bundle`: writes dist/bundle/hostgate and dist/bundle/hostgate-agent,
 * each an executable JavaScript file whose shebang runs it with this deno and
 * the same narrow permissions `deno task compile` bakes in. A runtime calls it
 * exactly like a binary; the tests and the demo run these files. A target with
 * `split` also gets `<name>.chunks/`: the modules it imports dynamically (the
 * agent's datastore backends), loaded from there only when used.
 * @module
 */
import { ENTRY_POINTS, permissionFlags, type Target, v8FlagArgs } from "./targets.ts";

const outDir = new URL("../../dist/bundle/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });
const deno = Deno.execPath();

/** Runs `deno bundle` for one target into `dir`; returns the entry's output file. */
async function denoBundle(target: Target, dir: string): Promise<string> {
  const entry = new URL(`../../${target.entry}`, import.meta.url).pathname;
  const out = await new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      // Not --keep-names: with it deno bundle drops its createRequire shim (require undefined).
      ...(target.minify ? ["--minify"] : []),
      ...(target.split ? ["--code-splitting", "--outdir", dir] : ["--output", `${dir}/out.js`]),
      entry,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle ${target.entry}: deno bundle exited ${out.code}`);
  }
  const base = target.entry.split("/").pop()!.replace(/\.ts$/, ".js");
  return target.split ? `${dir}/${base}` : `${dir}/out.js`;
}

for (const target of ENTRY_POINTS) {
  const tmpDir = await Deno.makeTempDir({ dir: outDir, prefix: `.${target.name}-` });
  await Deno.chmod(tmpDir, 0o755);
  try {
    const js = await denoBundle(target, tmpDir);
    let body = await Deno.readTextFile(js);
    const chunks = `${target.name}.chunks`;
    if (target.split) {
      // The entry moves up beside its chunk directory: point its imports there.
      body = body.replace(
        /(["'])\.\/([\w.-]+\.js)\1/g,
        (_m, q: string, file: string) => `${q}./${chunks}/${file}${q}`,
      );
      await Deno.remove(js);
    }
    const flags = [
      "run",
      "--no-config",
      "--no-lock",
      "--ext=js",
      ...v8FlagArgs(target),
      ...permissionFlags(target),
    ];
    const shebang = `#!/usr/bin/env -S ${deno} ${flags.join(" ")}\n`;
    const final = `${outDir}${target.name}`;
    if (target.split) {
      // Chunks first (the old program keeps its old chunk names until replaced below).
      await Deno.remove(`${outDir}${chunks}`, { recursive: true }).catch(() => {});
      await Deno.rename(tmpDir, `${outDir}${chunks}`);
    }
    const tmp = `${final}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(tmp, shebang + body.replace(/^#!.*\n/, ""), { mode: 0o755 });
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, final);
    console.error(`bundle: ${final}${target.split ? ` (+ ${chunks}/)` : ""}`);
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}
