/**
 * Encoding for the wire schemas of the hot answers, whose encoding changes nothing but which keys each object
 * keeps: every leaf is a string, number, boolean, literal or `unknown`, so encoding a committed value (which the
 * domain's decoders already proved valid) is a projection onto the declared keys. Schema's encoder does the same
 * walk with its parse machinery: ~4 KB allocated and ~2 µs for one version, a fifth of a served read's CPU and the
 * largest allocation of a served register (bench/results/issue-15-server.md). The projection is compiled from the
 * schema's own AST, so the declaration stays the single source; a schema with anything else in it (a
 * transformation, a declaration, a class) falls back to Schema's encoder. test/http/wireProjection.test.ts checks
 * both agree on every hot wire schema.
 */
import { Schema, type SchemaAST } from "effect"

type Projection = (value: unknown) => unknown

const asIs: Projection = (value) => value

const plainTags = new Set<SchemaAST.AST["_tag"]>([
  "StringKeyword",
  "NumberKeyword",
  "BooleanKeyword",
  "UnknownKeyword",
  "UndefinedKeyword",
  "Literal",
  "Enums",
  "TemplateLiteral",
])

const compile = (ast: SchemaAST.AST): Projection | undefined => {
  if (plainTags.has(ast._tag)) return asIs
  switch (ast._tag) {
    case "Refinement":
      return compile(ast.from)
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return undefined
      const element = compile(ast.rest[0]!.type)
      if (element === undefined) return undefined
      return element === asIs ? asIs : (value) => (value as ReadonlyArray<unknown>).map(element)
    }
    case "Union": {
      // Literal members (`null`) pass as they are; at most one member may need projecting.
      const projected = ast.types.filter((member) => compile(member) !== asIs)
      if (projected.length === 0) return asIs
      const member = projected.length === 1 ? compile(projected[0]!) : undefined
      if (member === undefined || projected[0]!._tag !== "TypeLiteral") return undefined
      return (value) => (typeof value === "object" && value !== null ? member(value) : value)
    }
    case "TypeLiteral": {
      if (ast.propertySignatures.length === 0)
        return ast.indexSignatures.every((index) => compile(index.type) === asIs) ? asIs : undefined
      if (ast.indexSignatures.length > 0) return undefined
      const fields: Array<readonly [PropertyKey, Projection, boolean]> = []
      for (const property of ast.propertySignatures) {
        const field = compile(property.type)
        if (field === undefined) return undefined
        fields.push([property.name, field, property.isOptional])
      }
      return (value) => {
        const source = value as Record<PropertyKey, unknown>
        const out: Record<PropertyKey, unknown> = {}
        for (const [key, field, optional] of fields) {
          if (optional && !(key in source)) continue
          out[key] = field(source[key])
        }
        return out
      }
    }
    default:
      return undefined
  }
}

/** Whether `schema` encodes by projection (otherwise `wireEncoder` uses Schema's encoder). */
export const projects = <A, I>(schema: Schema.Schema<A, I>): boolean => compile(schema.ast) !== undefined

/** `Schema.encodeSync(schema)`, as a projection where the schema allows it. */
export const wireEncoder = <A, I>(schema: Schema.Schema<A, I>): ((value: A) => I) =>
  (compile(schema.ast) as ((value: A) => I) | undefined) ?? Schema.encodeSync(schema)
