// The Axios app with refresh-coordinator's `attachAxios`.
import axios from 'axios';
import { attachAxios } from 'refresh-coordinator/axios';
import { app } from './app.js';

const client = axios.create();
attachAxios(client);
app((url) => client.get(url));
