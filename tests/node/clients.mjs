// Node clients against a live polymux gateway: node clients.mjs <gateway url> <case>.
// Prints one JSON object (what the client got) for tests/test_server_node.py to check.
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const [base, which] = process.argv.slice(2);
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: "unused", maxRetries: 0 });
const aiOpenAI = createOpenAI({ baseURL: `${base}/v1`, apiKey: "unused" });

const cases = {
  async "openai-responses"() {
    const first = await openai.responses.create({ model: "m1", input: "hi", instructions: "Be brief" });
    const stream = await openai.responses.create({ model: "m1", input: "again", stream: true });
    const types = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    const got = await openai.responses.retrieve(first.id);
    return { text: first.output_text, streamed: text, types, retrieved: got.id === first.id };
  },
  async "anthropic-messages"() {
    const message = await anthropic.messages.create({
      model: "m1", max_tokens: 50, messages: [{ role: "user", content: "hi" }],
    });
    const stream = anthropic.messages.stream({
      model: "m1", max_tokens: 50, messages: [{ role: "user", content: "again" }],
    });
    let text = "";
    stream.on("text", (piece) => { text += piece; });
    const final = await stream.finalMessage();
    return { text: message.content[0].text, stop: message.stop_reason, streamed: text, final: final.stop_reason };
  },
  async "ai-sdk"() {
    // The AI SDK's default OpenAI model speaks the Responses API.
    const whole = await generateText({ model: aiOpenAI("m1"), prompt: "hi" });
    const streamed = streamText({ model: aiOpenAI("m1"), prompt: "again" });
    let text = "";
    for await (const piece of streamed.textStream) text += piece;
    return { text: whole.text, streamed: text, finish: whole.finishReason };
  },
};

try {
  console.log(JSON.stringify(await cases[which]()));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
  process.exitCode = 1;
}
