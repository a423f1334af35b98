// The base app on Axios: what the Axios entries are measured against.
import axios from 'axios';
import { app } from './app.js';

app((url) => axios.get(url));
