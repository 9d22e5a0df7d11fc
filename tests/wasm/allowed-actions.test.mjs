// allowed_actions() of the WebAssembly core, asserted by value: the exact list, in the
// order and with the wire names of the companion's activity detail (`allowed_actions`).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { wasm } from './load.mjs';

const activity = (status, flow, more = {}) => ({
  status,
  flow,
  has_draft: false,
  has_approver: false,
  draft_approved: false,
  ...more,
});
const person = (more = {}) => ({ can_work: false, is_manager: false, is_approver: false, ...more });
const WORKER = person({ can_work: true });
const MANAGER = person({ is_manager: true });
const APPROVER = person({ is_approver: true });

function actions(a, p) {
  return wasm.allowed_actions(JSON.stringify(a), JSON.stringify(p));
}

const cases = [
  ['standard, open, worker, no draft', activity('open', 'standard'), WORKER, ['in_progress', 'done']],
  ['standard, open, worker with a draft may send', activity('open', 'standard', { has_draft: true }), WORKER, ['in_progress', 'done', 'send']],
  ['standard, in progress, worker and manager', activity('in_progress', 'standard'), person({ can_work: true, is_manager: true }), ['done', 'cancelled']],
  ['standard, open, reader only', activity('open', 'standard'), person(), []],
  ['standard, done, manager may reopen', activity('done', 'standard'), MANAGER, ['open']],
  ['standard, cancelled, worker may not reopen', activity('cancelled', 'standard'), WORKER, []],
  ['approval, in progress, worker, draft and approver: only submit', activity('in_progress', 'approval', { has_draft: true, has_approver: true }), WORKER, ['awaiting_approval']],
  ['approval, awaiting approval, approver', activity('awaiting_approval', 'approval', { has_draft: true, has_approver: true }), APPROVER, ['approved', 'changes_requested']],
  ['approval, awaiting approval, worker may withdraw', activity('awaiting_approval', 'approval', { has_draft: true, has_approver: true }), WORKER, ['in_progress']],
  ['approval, approved draft, worker may close or send', activity('approved', 'approval', { has_draft: true, has_approver: true, draft_approved: true }), WORKER, ['in_progress', 'done', 'send']],
  ['approval, approved but draft edited since, worker', activity('approved', 'approval', { has_draft: true, has_approver: true }), WORKER, ['in_progress']],
  ['approval, changes requested, manager only', activity('changes_requested', 'approval', { has_draft: true, has_approver: true }), MANAGER, ['cancelled']],
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
  const { has_draft: _, ...noDraft } = activity('open', 'standard');
  assert.throws(() => actions(noDraft, WORKER), /attività non valida \/ invalid activity: missing field `has_draft`/);
  assert.throws(() => actions(activity('archived', 'standard'), WORKER), /attività non valida \/ invalid activity/);
  assert.throws(() => wasm.allowed_actions(JSON.stringify(activity('open', 'standard')), '{}'), /persona non valida \/ invalid person/);
  assert.throws(() => wasm.allowed_actions('not json', JSON.stringify(WORKER)), /invalid activity/);
});
