/**
 * Validates manifests against the Kubernetes API schemas of the maintained
 * `kubernetes-models` package, strictly: the package's validators accept
 * unknown fields (the OpenAPI schemas allow them), so a typo such as
 * `hostNetwrok: true` would pass and silently do nothing. Here every field a
 * validator never reads is reported as unknown, the way `kubectl apply
 * --validate=strict` does against a live API server.
 * @module
 */
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { ValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import { ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";

/** A model class of kubernetes-models: constructible and validatable. */
interface ModelClass {
  new (data: Record<string, unknown>): { validate(): void };
  readonly prototype: { validate(): void };
}

/** The kinds hostgate ships, by `apiVersion/kind`. Others are refused. */
const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ["v1/Namespace", Namespace as unknown as ModelClass],
  ["v1/ServiceAccount", ServiceAccount as unknown as ModelClass],
  ["v1/ConfigMap", ConfigMap as unknown as ModelClass],
  ["v1/Secret", Secret as unknown as ModelClass],
  ["apps/v1/DaemonSet", DaemonSet as unknown as ModelClass],
  ["rbac.authorization.k8s.io/v1/ClusterRole", ClusterRole as unknown as ModelClass],
  ["rbac.authorization.k8s.io/v1/ClusterRoleBinding", ClusterRoleBinding as unknown as ModelClass],
  ["rbac.authorization.k8s.io/v1/Role", Role as unknown as ModelClass],
  ["rbac.authorization.k8s.io/v1/RoleBinding", RoleBinding as unknown as ModelClass],
  [
    "apiextensions.k8s.io/v1/CustomResourceDefinition",
    CustomResourceDefinition as unknown as ModelClass,
  ],
  [
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
    ValidatingAdmissionPolicy as unknown as ModelClass,
  ],
  [
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding",
    ValidatingAdmissionPolicyBinding as unknown as ModelClass,
  ],
]);

/** What the validator read of one object, found by its path. */
interface Reads {
  keys: Set<PropertyKey>;
  /** The validator enumerated the object (a map type such as labels): every key is known. */
  enumerated: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Runs `validate` over a proxy of `data` that records every property read, then
 * lists the own keys of plain objects the validator never read, as JSON paths.
 */
function unreadFields(data: Record<string, unknown>, validate: (proxy: object) => void): string[] {
  const reads = new Map<string, Reads>();
  const wrap = (target: unknown, path: string): unknown => {
    if (typeof target !== "object" || target === null) return target;
    let entry = reads.get(path);
    if (!entry) {
      entry = { keys: new Set(), enumerated: false };
      reads.set(path, entry);
    }
    const seen = entry;
    return new Proxy(target, {
      get(t, key, receiver) {
        seen.keys.add(key);
        const value = Reflect.get(t, key, receiver);
        return typeof key === "string" ? wrap(value, `${path}/${key}`) : value;
      },
      has(t, key) {
        seen.keys.add(key);
        return Reflect.has(t, key);
      },
      ownKeys(t) {
        seen.enumerated = true;
        return Reflect.ownKeys(t);
      },
    });
  };
  validate(wrap(data, "") as object);
  const unknown: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, `${path}/${i}`));
      return;
    }
    if (!isPlainObject(value)) return;
    const entry = reads.get(path);
    for (const [key, child] of Object.entries(value)) {
      if (entry && !entry.enumerated && !entry.keys.has(key)) unknown.push(`${path}/${key}`);
      else visit(child, `${path}/${key}`);
    }
  };
  visit(data, "");
  return unknown;
}

/**
 * Validates one parsed manifest object against its Kubernetes API schema and
 * refuses fields the schema does not define. Throws `Cannot validate ...`.
 */
export function validateManifest(obj: unknown): void {
  if (!isPlainObject(obj)) {
    throw new Error(`Cannot validate manifest: not an object: ${JSON.stringify(obj)}`);
  }
  const id = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const model = MODELS.get(id);
  if (!model) {
    throw new Error(`Cannot validate manifest: no schema for ${id}; hostgate ships none of it`);
  }
  const name = `${id} ${JSON.stringify((obj.metadata as { name?: string } | undefined)?.name)}`;
  // A plain deep copy: the model's constructor copies too, the proxy then sees the validator.
  const instance = new model(structuredClone(obj));
  try {
    instance.validate();
  } catch (e) {
    throw new Error(`Cannot validate ${name}: ${(e as Error).message}`);
  }
  let unknown = unreadFields(
    instance as unknown as Record<string, unknown>,
    (proxy) => model.prototype.validate.call(proxy),
  );
  if (id === "apiextensions.k8s.io/v1/CustomResourceDefinition") {
    unknown = unknown.filter((path) => !crdSchemaField(obj, path));
  }
  if (unknown.length > 0) {
    throw new Error(`Cannot validate ${name}: unknown fields ${unknown.join(", ")}`);
  }
}

/** Fields of apiextensions.k8s.io/v1 JSONSchemaProps. */
const SCHEMA_KEYS = new Set([
  "$ref",
  "$schema",
  "additionalItems",
  "additionalProperties",
  "allOf",
  "anyOf",
  "default",
  "definitions",
  "dependencies",
  "description",
  "enum",
  "example",
  "exclusiveMaximum",
  "exclusiveMinimum",
  "externalDocs",
  "format",
  "id",
  "items",
  "maxItems",
  "maxLength",
  "maxProperties",
  "maximum",
  "minItems",
  "minLength",
  "minProperties",
  "minimum",
  "multipleOf",
  "not",
  "nullable",
  "oneOf",
  "pattern",
  "patternProperties",
  "properties",
  "required",
  "title",
  "type",
  "uniqueItems",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
]);
const RULE_KEYS = new Set([
  "rule",
  "message",
  "messageExpression",
  "reason",
  "fieldPath",
  "optionalOldSelf",
]);

/** True when `value`, found under JSONSchemaProps key `key`, uses only known fields. */
function schemaValueOk(key: string, value: unknown): boolean {
  const schema = (v: unknown): boolean =>
    isPlainObject(v) &&
    Object.entries(v).every(([k, x]) => SCHEMA_KEYS.has(k) && schemaValueOk(k, x));
  switch (key) {
    case "properties":
    case "patternProperties":
    case "definitions":
      return isPlainObject(value) && Object.values(value).every(schema);
    case "items":
      return Array.isArray(value) ? value.every(schema) : schema(value);
    case "additionalProperties":
    case "additionalItems":
      return typeof value === "boolean" || schema(value);
    case "allOf":
    case "anyOf":
    case "oneOf":
      return Array.isArray(value) && value.every(schema);
    case "not":
      return schema(value);
    case "x-kubernetes-validations":
      return Array.isArray(value) &&
        value.every((r) =>
          isPlainObject(r) && typeof r.rule === "string" &&
          Object.keys(r).every((k) => RULE_KEYS.has(k))
        );
    default:
      return true;
  }
}

/**
 * kubernetes-models does not descend into a CRD's openAPIV3Schema, so the
 * generic check reports its nested fields as unknown. Accept such a path when
 * its key is a JSONSchemaProps field and everything below it is too, which
 * keeps typos inside a schema an error.
 */
function crdSchemaField(obj: Record<string, unknown>, path: string): boolean {
  const parts = path.split("/").slice(1);
  const at = parts.indexOf("openAPIV3Schema");
  if (parts[0] !== "spec" || parts[1] !== "versions" || parts[3] !== "schema" || at !== 4) {
    return false;
  }
  const key = parts[parts.length - 1]!;
  // A key inside a properties map is a property name, not a schema field.
  const parent = parts[parts.length - 2];
  if (parent === "properties" || parent === "patternProperties" || parent === "definitions") {
    return false;
  }
  if (!SCHEMA_KEYS.has(key)) return false;
  let cur: unknown = obj;
  for (const p of parts) {
    cur = isPlainObject(cur) || Array.isArray(cur)
      ? (cur as Record<string, unknown>)[p]
      : undefined;
  }
  return schemaValueOk(key, cur);
}
