// Statistiche: received, taken, worked per day, operator, mailbox and team; time to take
// in charge and to close; overdue now and over time (issue 16, item 3). The API
// (`GET /api/v1/stats`) is built by another helper: this page shows its charts once it
// answers, and says so until then.
import { soon } from './soon.js';

export async function render() {
  return soon('page_stats', 'stats_soon', '/api/v1/stats');
}
