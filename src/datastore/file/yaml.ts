/**
 * The YAML parser behind a module of its own, so the policy reader can import
 * it lazily (`import("./yaml.ts")`) while the static import here keeps the
 * npm package's CommonJS interop to the bundler.
 * @module
 */
export { parseAllDocuments } from "yaml";
