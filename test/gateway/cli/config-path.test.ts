// Which config `outpost start` runs on: --config, then $OUTPOST_CONFIG, then the installed
// /etc/outpost/outpost.yaml, then the checkout's config/default.yaml (#10: it used to need the repo root).
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { CHECKOUT_CONFIG, findConfig, INSTALLED_CONFIG } from '../../../gateway/cli/config-path.js'

const installed = (file: string) => file === INSTALLED_CONFIG
const nothing = () => false

describe('findConfig', () => {
  test('--config wins over everything', () => {
    expect(findConfig('my.yaml', { OUTPOST_CONFIG: '/x.yaml' }, installed)).toEqual({
      file: 'my.yaml',
      from: '--config',
    })
  })
  test('then $OUTPOST_CONFIG', () => {
    expect(findConfig(undefined, { OUTPOST_CONFIG: '/x.yaml' }, installed)).toEqual({
      file: '/x.yaml',
      from: 'OUTPOST_CONFIG',
    })
  })
  test('then /etc/outpost/outpost.yaml when it exists', () => {
    expect(findConfig(undefined, {}, installed)).toEqual({
      file: '/etc/outpost/outpost.yaml',
      from: 'installed',
    })
  })
  test("then the checkout's config/default.yaml, wherever the command runs from", () => {
    expect(findConfig(undefined, { OUTPOST_CONFIG: '' }, nothing)).toEqual({
      file: CHECKOUT_CONFIG,
      from: 'checkout',
    })
    expect(CHECKOUT_CONFIG).toBe(fileURLToPath(new URL('../../../config/default.yaml', import.meta.url)))
  })
})
