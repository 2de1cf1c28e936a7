// The official openai Node SDK against a live polymux gateway: every endpoint once.
// Run by tests/test_server_node.py as `node gateway_check.mjs <base URL> <PNG base64>
// <MP3 base64>`; prints one JSON object of what each call gave back.
import OpenAI, { toFile } from "openai";

const [base, pngB64, mp3B64] = process.argv.slice(2);
const png = Buffer.from(pngB64, "base64");
const mp3 = Buffer.from(mp3B64, "base64");
const client = new OpenAI({ baseURL: base, apiKey: "unused", maxRetries: 0 });
const messages = [{ role: "user", content: "hi" }];
const out = {};

const chat = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
out.chat = chat.choices[0].message.content;
let streamed = "";
for await (const chunk of await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages,
  stream: true,
})) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
}
out.chat_stream = streamed;

const embedded = await client.embeddings.create({
  model: "text-embedding-3-small",
  input: ["one", "two words"],
});
out.embeddings = embedded.data.map((d) => Array.from(d.embedding));

const completion = await client.completions.create({
  model: "gpt-3.5-turbo-instruct",
  prompt: "Once",
  max_tokens: 0,
});
out.completion = completion.choices[0].text;
let completed = "";
for await (const chunk of await client.completions.create({
  model: "gpt-3.5-turbo-instruct",
  prompt: "Go",
  stream: true,
})) {
  completed += chunk.choices[0]?.text ?? "";
}
out.completion_stream = completed;

const moderated = await client.moderations.create({ input: "I will kill it" });
out.moderation = moderated.results[0].flagged;

const edited = await client.images.edit({
  image: await toFile(png, "cat.png", { type: "image/png" }),
  prompt: "add a hat",
  model: "dall-e-2",
  response_format: "b64_json",
});
out.image_edit = edited.data[0].b64_json;
const varied = await client.images.createVariation({
  image: await toFile(png, "cat.png", { type: "image/png" }),
  n: 2,
  response_format: "b64_json",
});
out.image_variations = varied.data.length;

const heard = await client.audio.transcriptions.create({
  file: await toFile(mp3, "clip.mp3", { type: "audio/mpeg" }),
  model: "whisper-1",
});
out.transcription = heard.text;
const translated = await client.audio.translations.create({
  file: await toFile(mp3, "clip.mp3", { type: "audio/mpeg" }),
  model: "whisper-1",
});
out.translation = translated.text;
const spoken = await client.audio.speech.create({ model: "tts-1", input: "hi", voice: "alloy" });
out.speech_bytes = Buffer.from(await spoken.arrayBuffer()).length;

console.log(JSON.stringify(out));
