// Webhook: subscriptions per organisation and their delivery log (issue 16, item 6). The
// API (`/api/v1/webhooks`) is built by another helper: this page manages them once it
// answers, and says so until then.
import { soon } from './soon.js';

export async function render() {
  return soon('page_webhooks', 'webhooks_soon', '/api/v1/webhooks');
}
