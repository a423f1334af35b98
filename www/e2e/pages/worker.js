// A dedicated module worker running refresh-coordinator (see worker-client.js).
import { answer } from './worker-client.js';

self.addEventListener('message', answer);
