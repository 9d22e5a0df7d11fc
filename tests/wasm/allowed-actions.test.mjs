// allowed_actions() of the WebAssembly core, asserted by value: the exact list, in the
// order and with the wire names of the companion's activity detail (`allowed_actions`).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { wasm } from './load.mjs';

// The core's ActivityFacts and Person, as an add-in builds them from the API's activity
// detail and the signed-in user's grants.
const activity = (status, flow, more = {}) => ({
  mailbox_id: 'mb',
  status,
  flow,
  assignee_id: null,
  team_id: null,
  approver_id: null,
  draft_version: null,
  approved_draft_version: null,
  ...more,
});
const person = (policies = [], more = {}) => ({ user_id: 'u', mailboxes: { mb: policies }, teams: [], ...more });
const WORKER = person(['MAIL_ACTIVITY_READER', 'MAIL_ACTIVITY_WRITER']);
const MANAGER = person(['MAIL_ACTIVITY_MANAGER']);
const APPROVER = person([], { user_id: 'appr' });
const WITH_APPROVER = { approver_id: 'appr', draft_version: 2 };

function actions(a, p) {
  return wasm.allowed_actions(JSON.stringify(a), JSON.stringify(p));
}

const cases = [
  ['standard, open, worker, no draft', activity('open', 'standard'), WORKER, ['in_progress', 'done']],
  ['standard, open, worker with a draft may send', activity('open', 'standard', { draft_version: 1 }), WORKER, ['in_progress', 'done', 'send']],
  ['standard, in progress, worker and manager', activity('in_progress', 'standard'), person(['MAIL_ACTIVITY_READER', 'MAIL_ACTIVITY_WRITER', 'MAIL_ACTIVITY_MANAGER']), ['done', 'cancelled']],
  ['standard, open, reader only', activity('open', 'standard'), person(['MAIL_ACTIVITY_READER']), []],
  ['standard, open, no grant and no participation: not visible', activity('open', 'standard'), person([]), []],
  ['standard, open, member of the assigned team works without grants', activity('open', 'standard', { team_id: 't1' }), person([], { teams: ['t1'] }), ['in_progress', 'done']],
  ['standard, done, manager may reopen', activity('done', 'standard'), MANAGER, ['open']],
  ['standard, cancelled, worker may not reopen', activity('cancelled', 'standard'), WORKER, []],
  ['approval, in progress, worker, draft and approver: only submit', activity('in_progress', 'approval', WITH_APPROVER), WORKER, ['awaiting_approval']],
  ['approval, awaiting approval, approver decides (or takes it back as a participant)', activity('awaiting_approval', 'approval', WITH_APPROVER), APPROVER, ['in_progress', 'approved', 'changes_requested']],
  ['approval, awaiting approval, worker may withdraw', activity('awaiting_approval', 'approval', WITH_APPROVER), WORKER, ['in_progress']],
  ['approval, approved draft, worker may close or send', activity('approved', 'approval', { ...WITH_APPROVER, approved_draft_version: 2 }), WORKER, ['in_progress', 'done', 'send']],
  ['approval, approved but draft edited since, worker', activity('approved', 'approval', { ...WITH_APPROVER, draft_version: 3, approved_draft_version: 2 }), WORKER, ['in_progress']],
  ['approval, changes requested, manager only', activity('changes_requested', 'approval', WITH_APPROVER), MANAGER, ['cancelled']],
  // Segregation of duties: the facts name who wrote the draft and who asked for approval.
  ['approval, awaiting approval, approver who edited the draft may only ask for changes', activity('awaiting_approval', 'approval', { ...WITH_APPROVER, draft_authors: ['u', 'appr'] }), APPROVER, ['in_progress', 'changes_requested']],
  ['approval, awaiting approval, approver who asked for it decides nothing', activity('awaiting_approval', 'approval', { ...WITH_APPROVER, approval_requested_by: 'appr' }), APPROVER, ['in_progress']],
  ['approval, awaiting approval, approver who became the assignee decides nothing', activity('awaiting_approval', 'approval', { ...WITH_APPROVER, assignee_id: 'appr' }), APPROVER, ['in_progress']],
];

for (const [name, a, p, expected] of cases) {
  test(`allowed_actions: ${name}`, () => {
    assert.deepEqual(actions(a, p), expected);
  });
}

test('allowed_actions ignores fields it does not read (an API activity object may be passed)', () => {
  assert.deepEqual(actions({ ...activity('open', 'standard'), id: 'a1', title: 'x' }, WORKER), ['in_progress', 'done']);
});

test('allowed_actions throws on a missing field or an unknown status, in both languages', () => {
  const { status: _, ...noStatus } = activity('open', 'standard');
  assert.throws(() => actions(noStatus, WORKER), /attività non valida \/ invalid activity: missing field `status`/);
  assert.throws(() => actions(activity('archived', 'standard'), WORKER), /attività non valida \/ invalid activity/);
  assert.throws(() => wasm.allowed_actions(JSON.stringify(activity('open', 'standard')), '{}'), /persona non valida \/ invalid person/);
  assert.throws(() => wasm.allowed_actions('not json', JSON.stringify(WORKER)), /invalid activity/);
});
