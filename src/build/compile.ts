/**
 * `deno task compile`: writes dist/bin/hostgate and dist/bin/hostgate-agent
 * with `deno compile` and the same narrow permissions as the bundle. It needs
 * the denort runtime: from the network (the Containerfile's build stage), or
 * a local copy named by DENORT_BIN. Without either it fails with that message.
 * @module
 */
import { ENTRY_POINTS, permissionFlags, v8FlagArgs } from "./targets.ts";

const outDir = new URL("../../dist/bin/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });
const env: Record<string, string> = {};
const denort = Deno.env.get("DENORT_BIN");
if (denort) env.DENORT_BIN = denort;

for (const target of ENTRY_POINTS) {
  const entry = new URL(`../../${target.entry}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--quiet",
      ...v8FlagArgs(target),
      ...permissionFlags(target),
      "--output",
      `${outDir}${target.name}`,
      entry,
    ],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot compile ${target.entry}: deno compile exited ${out.code}` +
        " (it needs the denort runtime: network access to the Deno CDN, or DENORT_BIN)",
    );
  }
  console.error(`compile: ${outDir}${target.name}`);
}
