// The official TypeScript Tasks requester (@modelcontextprotocol/ext-tasks) on the TypeScript
// SDK's client, against `codemode serve` over HTTP in the 2025-11-25 era (the tasks utility):
//   node tasks_client.mjs URL WAIT_FOR_GO_CODE WAIT_FOREVER_CODE NEEDS_APPROVAL_CODE
// (tests/serve/test_serve_tasks.py runs it). Runs the first code as a task and prints "running"
// once the task's status message shows the code's first tool call (the test then lets it end);
// runs the second as a task and cancels it once it runs; runs the third, whose tool call needs an
// approval, as a task and accepts the question it asks; prints what it saw as one JSON line.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const [url, waitGo, waitNever, needsApproval] = process.argv.slice(2);
const client = new Client({ name: "codemode-ts-tasks", version: "1.0.0" },
  { versionNegotiation: { mode: "legacy" }, capabilities: { elicitation: { form: {} } } });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const tools = await client.listTools();
const asked = [];
const session = createTaskSessionFromClient(client, {
  endpointId: "codemode-test",
  // An approval the task's code needs: accepted once, and remembered for the check.
  onInputRequest: async (request, context) => {
    asked.push({ kind: request.kind, scope: context.scope, taskId: context.taskId ?? null,
                 message: request.params.message });
    return { action: "accept", content: { decision: "once" } };
  },
});
const warm = await client.callTool({ name: "execute", arguments: { code: "kept = 1" } });
const handle = warm.structuredContent.session;

// Follows the task's updates until its status message names the code's first call, then resolves.
async function runningOf(execution) {
  for await (const event of execution.updates()) {
    if (event.type === "task" && (event.task.statusMessage ?? "").includes("demo.get_customer ok")) {
      return event.task.status;
    }
    if (event.type === "outcome") throw new Error(`ended before running: ${JSON.stringify(event.outcome)}`);
  }
  throw new Error("no updates");
}

const first = await session.callTool("execute", { code: waitGo, session: handle },
  { task: { preference: "require", retentionMs: 60_000 } });
const firstView = await session.task(first.handle.taskId).snapshot();
const created = firstView.status;
const running = await runningOf(first);
console.log("running");
const { outcome } = await first.settle();
const result = resultFromTaskOutcome(outcome);
const plain = await client.callTool({ name: "execute", arguments: { code: waitGo, session: handle } });

const second = await session.callTool("execute", { code: waitNever, session: handle },
  { task: { preference: "require", retentionMs: 10_000_000_000 } });
const secondTtl = (await session.task(second.handle.taskId).snapshot()).ttl;
await runningOf(second);
await second.cancel();
const cancelled = (await session.task(second.handle.taskId).snapshot()).status;
const afterCancel = await client.callTool({ name: "execute", arguments: { code: "step", session: handle } });

const approving = await session.callTool("execute", { code: needsApproval }, { task: { preference: "require" } });
const approved = resultFromTaskOutcome((await approving.settle()).outcome);

console.log(JSON.stringify({
  protocolVersion: client.getNegotiatedProtocolVersion?.() ?? null,
  taskSupport: tools.tools.find((tool) => tool.name === "execute").execution?.taskSupport ?? null,
  kind: first.kind,
  taskId: first.handle.taskId,
  created,
  ttls: [firstView.ttl, secondTtl],
  running,
  result,
  plain,
  cancelled,
  afterCancel,
  asked,
  approvingTaskId: approving.handle.taskId,
  approved,
}));
await session.close();
await client.close();
