#!/usr/bin/env node
// The `outpost` command. One signal handler lives in `start`; everything else runs and exits.
import { readFileSync } from 'node:fs'
import { type CliIo, EXIT, println, UsageError } from './cli/io.js'

const HELP = `outpost — MQTT edge gateway with a durable outbox

usage:
  outpost start [--config FILE]          run the gateway (config: --config, $OUTPOST_CONFIG,
                                         /etc/outpost/outpost.yaml, config/default.yaml; start --help)
  outpost check-config FILE              validate a config, print every problem; exit 78 if invalid
  outpost outbox stats --data-dir DIR|--config FILE
                                         backlog, cursors, dead letters and counters (gateway stopped)
  outpost outbox peek --data-dir DIR [--cursor NAME] [--limit N] [--json]
                                         print stored records
  outpost outbox peek --data-dir DIR --dead [--upstream U] [--reason R] [--limit N] [--json]
                                         print dead letters: records an upstream will never take
  outpost outbox requeue --data-dir DIR --dead [--upstream U] [--reason R]
                                         append dead letters to the log again, for their upstream
  outpost outbox purge --data-dir DIR --dead [--upstream U] [--reason R]
                                         delete dead letters (counted)
  outpost passwd USER                    print a password hash line for broker.users
  outpost simulate [--devices N --rate R/s --duration T --broker URL …]
                                         simulated MQTT devices (or --serial PATH --framing F)
  outpost --help | --version

exit status: 0 ok, 1 failure, 64 usage, 66 missing file, 69 port in use or no outbox, 73 data dir
not writable, 74 outbox unreadable, 75 outbox in use, 77 not permitted, 78 invalid config`

type Command = (args: string[], io: CliIo) => Promise<number>

// Each command's module is loaded when it runs: `outpost start` never loads the simulator (mqtt.js),
// `outpost passwd` never loads the gateway.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./cli/start.js')).startCommand,
  'check-config': async () => (await import('./cli/check-config.js')).checkConfigCommand,
  outbox: async () => (await import('./cli/outbox.js')).outboxCommand,
  passwd: async () => (await import('./cli/passwd.js')).passwdCommand,
  simulate: async () => (await import('./cli/simulate.js')).simulateCommand,
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    println(command === undefined ? io.stderr : io.stdout, HELP)
    return command === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (command === '--version' || command === '-v') {
    println(io.stdout, version())
    return EXIT.OK
  }
  const load = COMMANDS[command]
  if (!load) {
    println(io.stderr, `unknown command "${command}"\n\n${HELP}`)
    return EXIT.USAGE
  }
  try {
    const run = await load()
    return await run(args, io)
  } catch (err) {
    if (err instanceof UsageError) {
      println(io.stderr, err.message)
      return EXIT.USAGE
    }
    const code = (err as { code?: string }).code
    println(io.stderr, `outpost ${command}: ${(err as Error).message}${code ? ` (${code})` : ''}`)
    return EXIT.FAILURE
  }
}

const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err)
    process.exitCode = EXIT.FAILURE
  },
)
