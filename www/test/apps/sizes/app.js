// What every size app does with the client it is given.
export function app(send) {
  send('/api/data/0/').then((response) => {
    document.body.textContent = String(response.status);
  });
}
