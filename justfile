# CI wrapper around deno.json's tasks; deno.json holds the one task graph.
deno := env_var_or_default("DENO", "deno")

# What CI runs: the README's test command.
ci:
    {{deno}} task test

ok:
    {{deno}} task ok

bench:
    {{deno}} task bench

demo:
    {{deno}} task demo

# hostgate in a 3-node kind cluster (deploy/kind/smoke.ts). Needs Docker, kind and kubectl;
# without them it says so and exits 2, testing nothing.
kind-smoke *ARGS:
    {{deno}} run --allow-read --allow-env --allow-run deploy/kind/smoke.ts {{ARGS}}
