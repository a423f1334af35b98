import { run } from '../src/probe.js';

run();
