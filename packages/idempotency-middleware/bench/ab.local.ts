import express from 'express4'
const { idempotency, MemoryStore } = (await import(
  process.env.PKG ?? '@steadfast/idempotency-middleware'
)) as typeof import('@steadfast/idempotency-middleware')
const a = express()
a.use(express.json())
if (process.env.V !== 'bare') a.use(idempotency({ store: new MemoryStore() }))
a.post('/orders', (req, res) => {
  res.status(201).json({ id: 'ord_123', amount: req.body.amount, currency: 'usd' })
})
const server = a.listen(4555, '127.0.0.1')
setTimeout(() => { server.close(); process.exit(0) }, Number(process.env.MS ?? 9000))
