'use strict';
// Keeps Logto on loopback: every listening socket binds 127.0.0.1, and an
// outbound connection to anything but loopback is refused.
const net = require('node:net');
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/i;
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined) args[0] = { ...first, host: '127.0.0.1' };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    args = [first, '127.0.0.1', ...args.slice(1).filter((a) => typeof a === 'function')];
  }
  return listen.apply(this, args);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  let host;
  if (options !== null && typeof options === 'object') {
    if (options.path !== undefined) return connect.apply(this, args);
    host = options.host ?? 'localhost';
  } else if (typeof args[1] === 'string') {
    host = args[1];
  } else {
    host = 'localhost';
  }
  if (!LOOPBACK.test(String(host).replace(/^\[|\]$/g, ''))) {
    const error = new Error(`loopback-only: refused a connection to ${host}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
