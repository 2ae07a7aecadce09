// The TypeScript SDK's client against `codemode serve` over HTTP, in one protocol era:
//   node serve_client.mjs URL legacy|2026-07-28   (tests/serve/test_serve_ts_client.py runs it)
// Lists the tools, keeps a variable across two executes by the session handle, reads a big
// value back by its resource link, and prints what it saw as one JSON line.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [url, era] = process.argv.slice(2);
const versionNegotiation = era === "legacy" ? { mode: "legacy" } : { mode: { pin: era } };
const client = new Client({ name: "codemode-ts-test", version: "1.0.0" }, { versionNegotiation });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const tools = await client.listTools();
const first = await client.callTool({ name: "execute", arguments: { code: "x = 20\nx + 1" } });
const session = first.structuredContent.session;
const second = await client.callTool({ name: "execute", arguments: { code: "x * 2", session } });
const big = await client.callTool({ name: "execute", arguments: { code: "'y' * 300_000", session } });
const link = big.content.find((block) => block.type === "resource_link");
const read = await client.readResource({ uri: link.uri });
let unknown = null;
try {
  await client.callTool({ name: "nope", arguments: {} });
} catch (error) {
  unknown = error.code ?? String(error);
}
console.log(JSON.stringify({
  protocolVersion: client.getNegotiatedProtocolVersion?.() ?? null,
  tools: tools.tools.map((tool) => tool.name),
  first: first.structuredContent.result,
  second: second.structuredContent.result,
  sameSession: second.structuredContent.session === session,
  bigRead: read.contents[0].text.length,
  unknown,
}));
await client.close();
