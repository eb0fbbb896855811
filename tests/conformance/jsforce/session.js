// jsforce, unchanged, against sfsync simulator: one session's worth of what applications do.
// Run by test_jsforce.py, which starts the simulator and passes its URL and a refresh token.
'use strict';

const assert = require('node:assert/strict');
const jsforce = require('jsforce');

const { SIMULATOR_URL, INSTANCE_URL, REFRESH_TOKEN, ACCOUNTS } = process.env;

async function main() {
  const conn = new jsforce.Connection({
    oauth2: {
      loginUrl: SIMULATOR_URL,
      clientId: '3MVG9sfsyncSimulatorConsumerKey',
      clientSecret: 'sfsync-simulator-consumer-secret',
    },
    instanceUrl: INSTANCE_URL,
    accessToken: 'not-a-session',
    refreshToken: REFRESH_TOKEN,
    version: '62.0',
  });
  let refreshed = 0;
  conn.on('refresh', () => { refreshed += 1; });

  // A dead access token is refreshed with the refresh token, once, and the call goes through.
  const every = await conn.query('SELECT Id, Name, Owner.Name FROM Account')
    .run({ autoFetch: true, maxFetch: 100000 });
  assert.equal(refreshed, 1);
  assert.equal(every.totalSize, Number(ACCOUNTS));
  assert.equal(every.records.length, Number(ACCOUNTS));
  assert.equal(every.records[0].Owner.attributes.type, 'User');

  // One record, then several through sObject Collections.
  const accounts = conn.sobject('Account');
  const one = await accounts.create({ Name: 'jsforce Co' });
  assert.equal(one.success, true);
  const many = await accounts.create([{ Name: 'Two' }, { Industry: 'Energy' }]);
  assert.equal(many[0].success, true);
  assert.equal(many[1].success, false);
  assert.equal(many[1].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');

  const updated = await accounts.update({ Id: one.id, Industry: 'Banking' });
  assert.equal(updated.success, true);
  const fetched = await accounts.retrieve(one.id);
  assert.equal(fetched.Industry, 'Banking');

  await accounts.destroy(one.id);
  await assert.rejects(accounts.retrieve(one.id), { errorCode: 'NOT_FOUND' });
  const binned = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id = '${one.id}'`,
    { scanAll: true });
  assert.equal(binned.records[0].IsDeleted, true);

  // Metadata, limits and errors as the client models them.
  const global = await conn.describeGlobal();
  assert.ok(global.sobjects.some((s) => s.name === 'Invoice__c'));
  const contact = await conn.sobject('Contact').describe();
  assert.ok(contact.fields.some((f) => f.name === 'MailingAddress'));
  const limits = await conn.limits();
  assert.equal(limits.DailyApiRequests.Max, 100000);
  assert.ok(conn.limitInfo.apiUsage.used > 0);
  await assert.rejects(conn.query('SELECT Nope__c FROM Account'), { errorCode: 'INVALID_FIELD' });

  // Bulk API 2.0: every row of the object, as CSV parsed by the client.
  const count = await conn.query('SELECT COUNT() FROM Contact');
  let rows = 0;
  for await (const row of await conn.bulk2.query('SELECT Id, LastName FROM Contact')) {
    assert.ok(row.Id.startsWith('003'));
    rows += 1;
  }
  assert.equal(rows, count.totalSize);
}

main().then(
  () => console.log('jsforce session: ok'),
  (error) => { console.error(error); process.exit(1); },
);
