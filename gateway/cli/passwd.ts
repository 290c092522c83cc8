// `outpost passwd USER`: reads a password (without echo on a terminal, or one line from a pipe) and
// prints the config line for broker.users.
import { hashPassword } from '../broker/password.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'

export async function passwdCommand(args: string[], io: CliIo): Promise<number> {
  const user = args[0]
  if (user === undefined || args.length > 1) throw new UsageError('usage: outpost passwd USER')
  const password = io.stdin.isTTY
    ? await promptHidden(io, `password for ${user}: `)
    : await readLine(io.stdin)
  if (password.length === 0) {
    println(io.stderr, 'empty password refused')
    return EXIT.USAGE
  }
  const hash = await hashPassword(password)
  println(io.stdout, `- { username: ${JSON.stringify(user)}, passwordHash: "${hash}" }`)
  return EXIT.OK
}

async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) {
    text += chunk.toString()
    if (text.includes('\n')) break
  }
  return (text.split('\n')[0] ?? '').replace(/\r$/, '')
}

function promptHidden(io: CliIo, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    io.stderr.write(prompt)
    let text = ''
    io.stdin.setRawMode?.(true)
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done()
          return resolve(text)
        }
        if (ch === '\u0003') {
          done()
          return reject(new Error('interrupted'))
        }
        if (ch === '\u007f') text = text.slice(0, -1)
        else text += ch
      }
    }
    const done = () => {
      io.stdin.setRawMode?.(false)
      io.stdin.removeListener('data', onData)
      io.stdin.pause()
      io.stderr.write('\n')
    }
    io.stdin.on('data', onData)
    io.stdin.resume()
  })
}
