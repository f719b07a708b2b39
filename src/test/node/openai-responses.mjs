// The official openai Node SDK's Responses API against Caravan's mock: responses.create (text, a tool round trip by
// previous_response_id, structured output) and responses.stream (its event sequence, assembled by the SDK).
// Run by dev.caravan.LangChainAgainstMockTest; prints "ok   <name>" or "FAIL <name>: why", exits 1 on any failure.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.CARAVAN_BASE_URL, apiKey: process.env.CARAVAN_API_KEY, maxRetries: 0 });
const model = 'mock-gpt';
let failed = 0;

async function check(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function assert(condition, what) {
  if (!condition) throw new Error(what);
}

const weather = {
  type: 'function', name: 'get_weather', description: 'The current weather in a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

await check('createAnswersWithOutputText', async () => {
  const r = await client.responses.create({ model, instructions: 'Be brief.', input: 'Say hello' });
  assert(r.object === 'response' && r.id.startsWith('resp_'), `a response, got ${JSON.stringify(r).slice(0, 200)}`);
  assert(typeof r.output_text === 'string' && r.output_text.length > 0, 'output_text');
  assert(r.usage && r.usage.total_tokens > 0, 'usage');
});

await check('aToolCallRoundTripsThroughPreviousResponseId', async () => {
  const first = await client.responses.create({ model, input: 'What is the weather in Paris?', tools: [weather] });
  const call = first.output.find((item) => item.type === 'function_call');
  assert(call && call.name === 'get_weather', `a get_weather call, got ${JSON.stringify(first.output)}`);
  assert(typeof JSON.parse(call.arguments).city === 'string', `arguments with a city: ${call.arguments}`);
  const second = await client.responses.create({
    model, previous_response_id: first.id, tools: [weather],
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"sky":"sunny"}' }],
  });
  assert(second.output_text.includes('get_weather'), `a text answer about the tool's result, got ${second.output_text}`);
});

await check('structuredOutputMatchesItsSchema', async () => {
  const r = await client.responses.create({
    model, input: 'The weather in Paris as JSON',
    text: { format: { type: 'json_schema', name: 'weather', strict: true, schema: {
      type: 'object', additionalProperties: false, required: ['city', 'celsius'],
      properties: { city: { type: 'string' }, celsius: { type: 'number' } } } } },
  });
  const value = JSON.parse(r.output_text);
  assert(typeof value.city === 'string' && typeof value.celsius === 'number', `schema-valid JSON, got ${r.output_text}`);
});

await check('streamAssemblesTheEventsIntoTheFinalResponse', async () => {
  const stream = client.responses.stream({ model, input: 'Stream a hello' });
  let deltas = 0;
  const types = [];
  stream.on('event', (e) => types.push(e.type));
  stream.on('response.output_text.delta', () => deltas++);
  const final = await stream.finalResponse();
  assert(deltas > 0, 'text deltas');
  assert(final.output_text.length > 0, 'final output_text');
  assert(types[0] === 'response.created' && types[types.length - 1] === 'response.completed',
      `created first and completed last: ${types.join(',')}`);
});

await check('aStreamedToolCallArrivesWhole', async () => {
  const stream = client.responses.stream({ model, input: 'What is the weather in Paris?', tools: [weather] });
  const final = await stream.finalResponse();
  const call = final.output.find((item) => item.type === 'function_call');
  assert(call && typeof JSON.parse(call.arguments).city === 'string', `a streamed call, got ${JSON.stringify(final.output)}`);
});

process.exit(failed === 0 ? 0 : 1);
