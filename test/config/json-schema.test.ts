// The JSON Schema for editors is generated from the zod schema. This is the test that makes CI fail when
// the committed config/outpost.schema.json is stale: regenerate it with `npm run schema` and commit it.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { configJsonSchema, configJsonSchemaText } from '../../config/json-schema.js'

const COMMITTED = fileURLToPath(new URL('../../config/outpost.schema.json', import.meta.url))

describe('config/outpost.schema.json', () => {
  test('is up to date: equals the schema generated from config/schema.ts byte for byte (else: run npm run schema)', () => {
    const committed = readFileSync(COMMITTED, 'utf8')
    const generated = configJsonSchemaText()
    expect(
      committed,
      'config/outpost.schema.json is stale (it differs from config/schema.ts): run `npm run schema` and commit the result',
    ).toBe(generated)
  })

  test('generation is deterministic and the result is a draft 2020-12 schema that takes size strings', () => {
    expect(configJsonSchemaText()).toBe(configJsonSchemaText())
    const schema = configJsonSchema() as {
      $schema: string
      $id: string
      title: string
      properties: Record<string, { properties?: Record<string, { anyOf?: { type: string }[] }> }>
    }
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.$id).toBe('https://outpost.dev/schema/config.json')
    expect(schema.title).toBe('Outpost gateway configuration')
    const maxBytes = schema.properties.outbox?.properties?.maxBytes
    expect(maxBytes?.anyOf?.map((t) => t.type).sort()).toEqual(['integer', 'string'])
  })
})
