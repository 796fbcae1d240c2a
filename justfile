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
