/**
 * `deno task bundle`: writes dist/bundle/hostgate and dist/bundle/hostgate-agent,
 * each one executable JavaScript file whose shebang runs it with this deno and
 * the same narrow permissions `deno task compile` bakes in. A runtime calls it
 * exactly like a binary; the tests and the demo run these files.
 * @module
 */
import { ENTRY_POINTS, permissionFlags, v8FlagArgs } from "./targets.ts";

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
    ...permissionFlags(target),
  ];
  const shebang = `#!/usr/bin/env -S ${deno} ${flags.join(" ")}\n`;
  const final = `${outDir}${target.name}`;
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, shebang + body.replace(/^#!.*\n/, ""), { mode: 0o755 });
  await Deno.chmod(tmp, 0o755);
  await Deno.rename(tmp, final);
  await Deno.remove(js);
  console.error(`bundle: ${final}`);
}
