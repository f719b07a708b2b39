// LangChain JS against Caravan's built-in mock: bindTools, a tool round trip, streamed tool calls and
// withStructuredOutput, as an agent framework uses them. Run by dev.caravan.LangChainAgainstMockTest with
// CARAVAN_BASE_URL (…/v1) and CARAVAN_API_KEY set; exits non-zero, saying why, on the first failure.
import assert from 'node:assert/strict';
import { ChatOpenAI } from '@langchain/openai';
import { tool } from '@langchain/core/tools';
import { HumanMessage } from '@langchain/core/messages';
import { z } from 'zod';

const baseURL = process.env.CARAVAN_BASE_URL;
const apiKey = process.env.CARAVAN_API_KEY;
assert.ok(baseURL && apiKey, 'CARAVAN_BASE_URL and CARAVAN_API_KEY must be set');

const model = new ChatOpenAI({ model: 'mock-gpt', apiKey, configuration: { baseURL }, maxRetries: 0, timeout: 20000 });

const weatherArgs = z.object({
  city: z.string().min(2).describe('The city'),
  unit: z.enum(['celsius', 'fahrenheit']),
});
const getWeather = tool(async ({ city, unit }) => `18 degrees ${unit} and sunny in ${city}`, {
  name: 'get_weather', description: 'Current weather for a city', schema: weatherArgs,
});
const getTime = tool(async ({ timezone }) => `12:00 in ${timezone}`, {
  name: 'get_time', description: 'Local time in a timezone', schema: z.object({ timezone: z.string() }),
});

const checks = {
  async bindToolsCallsTheToolWithSchemaValidArguments() {
    const ai = await model.bindTools([getWeather, getTime]).invoke("What's the weather in Paris?");
    assert.equal(ai.tool_calls.length, 1, JSON.stringify(ai.tool_calls));
    assert.equal(ai.tool_calls[0].name, 'get_weather');
    const args = weatherArgs.parse(ai.tool_calls[0].args);
    assert.equal(args.city, 'Paris');
  },

  async parallelToolCallsCallEveryToolThePromptNames() {
    const ai = await model.bindTools([getWeather, getTime]).invoke('The weather and the local time in Oslo?');
    assert.deepEqual(ai.tool_calls.map((c) => c.name), ['get_weather', 'get_time']);
  },

  async aToolRoundTripEndsInText() {
    const withTools = model.bindTools([getWeather, getTime]);
    const messages = [new HumanMessage("What's the weather in Paris?")];
    const ai = await withTools.invoke(messages);
    messages.push(ai);
    for (const call of ai.tool_calls) {
      messages.push(await getWeather.invoke(call)); // a ToolMessage with the call's id
    }
    const answer = await withTools.invoke(messages);
    assert.equal(answer.tool_calls.length, 0);
    assert.match(String(answer.content), /^The tool get_weather returned: 18 degrees celsius and sunny in Paris/);
  },

  async streamedToolCallsAssemble() {
    let whole;
    for await (const chunk of await model.bindTools([getWeather, getTime]).stream('Weather in Rome, please')) {
      whole = whole === undefined ? chunk : whole.concat(chunk);
    }
    assert.equal(whole.tool_calls.length, 1, JSON.stringify(whole.tool_call_chunks));
    assert.equal(weatherArgs.parse(whole.tool_calls[0].args).city, 'Rome');
  },

  async withStructuredOutputGivesAMatchingObject() {
    const person = z.object({
      name: z.string(),
      age: z.number().int().min(0).max(120),
      email: z.string().email(),
      tags: z.array(z.string()).min(1),
      mood: z.enum(['happy', 'sad']),
      address: z.object({ city: z.string(), zip: z.string().regex(/^\d{5}$/) }),
    });
    for (const method of [undefined, 'functionCalling', 'jsonSchema']) {
      const structured = model.withStructuredOutput(person, method ? { method } : undefined);
      const value = await structured.invoke('Describe someone who lives in Berlin and is 42');
      person.parse(value);
      assert.equal(value.age, 42, `${method}: ${JSON.stringify(value)}`);
    }
  },
};

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  const started = Date.now();
  try {
    await check();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
