// Writes config/outpost.schema.json from the zod schema. Run with `npm run schema`.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { configJsonSchemaText } from '../config/json-schema.js'

const target = fileURLToPath(new URL('../../config/outpost.schema.json', import.meta.url))
writeFileSync(target, configJsonSchemaText())
console.log(`wrote ${target}`)
