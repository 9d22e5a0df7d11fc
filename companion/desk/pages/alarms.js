// Allarmi: SLA alarms before and after due dates, unconfirmed recipients, quota, app
// passwords, failing ingestion (issue 16, item 2). The API (`GET /api/v1/alarms`) is built
// by another helper: this page lists them once it answers, and says so until then.
import { soon } from './soon.js';

export async function render() {
  return soon('page_alarms', 'alarms_soon', '/api/v1/alarms');
}
