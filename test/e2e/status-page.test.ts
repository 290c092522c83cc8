// The status page (issue #10 item 6) in a real browser: Debian's headless Chromium driven by
// playwright-core opens http://127.0.0.1:PORT/ on a real gateway process; with the uplink cut, the
// upstream's backlog on the page rises as devices publish; with the uplink back, it falls to zero.
// A screenshot of the page with a backlog goes to artifacts/status-page.png (kept by CI).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto, publishReadings } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { tempDir } from '../helpers/tmp.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url))
const haveChromium = () =>
  needs(`Debian's chromium at ${CHROMIUM} (apt-get install chromium)`, hasBinary(CHROMIUM))

describe.runIf(haveMosquitto() && haveChromium())('status page', () => {
  let browser: Browser | undefined
  let gw: GatewayProcess | undefined
  let cloud: Cloud | undefined
  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
    await cloud?.close()
  })

  /** The cloud upstream's row: its state and backlog cells as the page shows them. */
  async function row(page: Page): Promise<{ state: string; backlog: number }> {
    const r = page.locator('tr[data-upstream="cloud"]')
    if ((await r.count()) === 0) return { state: '', backlog: -1 }
    const state = (await r.locator('td.state').textContent()) ?? ''
    const backlog = Number((await r.locator('td.backlog').textContent()) ?? '-1')
    return { state, backlog }
  }

  async function until(page: Page, check: (r: { state: string; backlog: number }) => boolean, ms: number) {
    const deadline = Date.now() + ms
    let last = await row(page)
    while (!check(last)) {
      if (Date.now() > deadline) throw new Error(`the page shows ${JSON.stringify(last)}`)
      await new Promise((r) => setTimeout(r, 200))
      last = await row(page)
    }
    return last
  }

  it('shows the backlog rise while the uplink is cut and fall when it is back', async () => {
    const dir = tempDir('outpost-page-')
    cloud = await createCloud(dir, true)
    gw = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, { http: { enabled: true, host: '127.0.0.1', port: 0 } }),
    )
    const port = gw.logs.find((l) => l.msg === 'http listening')?.port as number
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    await page.goto(`http://127.0.0.1:${port}/`)
    await until(page, (r) => r.state === 'connected' && r.backlog === 0, 20_000)
    expect(await page.locator('#gateway').textContent()).toBe('gw-test')

    await cloud.down()
    await until(page, (r) => r.state !== 'connected', 20_000)
    const acked = await publishReadings(gw.url, 3, 100, { inflight: 10 })
    expect(acked.flat()).toHaveLength(300)
    const risen = await until(page, (r) => r.backlog >= 300, 20_000)
    expect(risen.backlog).toBe(300)
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true })

    await cloud.up()
    const drained = await until(page, (r) => r.state === 'connected' && r.backlog === 0, 30_000)
    expect(drained.backlog).toBe(0)
    expect(await page.locator('#error').textContent()).toBe('')
  }, 90_000)
})
