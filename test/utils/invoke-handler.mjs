// Runs the bundled Lambda handler once in this process, as the Lambda runtime would: the event
// (JSON) on stdin, the handler's answer (JSON) on stdout, logs on stderr.
const [bundle] = process.argv.slice(2)
process.stderr.write(`INIT_START Runtime Version: nodejs:${process.versions.node}\nSTART RequestId: ${process.pid} Version: $LATEST\n`)
const { handler } = await import(bundle)
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const result = await handler(JSON.parse(Buffer.concat(chunks).toString("utf8")))
process.stdout.write(JSON.stringify(result))
