// The JSON Schema for editors, generated from the zod schema (never edited by hand).
// `npm run schema` writes it to config/outpost.schema.json; a test fails when that file is stale.
import { z } from 'zod'
import { configSchema } from './schema.js'

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  })
  return {
    ...schema,
    $id: 'https://outpost.dev/schema/config.json',
    title: 'Outpost gateway configuration',
  }
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`
}
