import { Socket } from 'node:net';

/**
 * How long a connection answered before its request body was read goes on reading (and
 * discarding) what the client still sends, after the answer and the server's FIN. Apache's
 * lingering close waits 2 s per read; this bounds the whole linger to that.
 */
export const LINGER_MS = 2000;

/**
 * Closes the connection after the current answer (`Connection: close`) without resetting it
 * under a client that is still sending its body, as a client does that uploads more than
 * BODY_LIMIT and only looks for the answer once it has sent everything.
 *
 * Node's HTTP server ends such a connection with `socket.destroySoon()`: the answer, the FIN,
 * then the socket is destroyed at once. The client's next bytes then meet a closed socket and
 * the kernel answers them with a reset, which can discard the 413 before the client has read it
 * (and always fails the client's write with EPIPE/ECONNRESET). Here the server instead sends the
 * answer and the FIN, keeps reading and discarding (Node's parser drops the rest of the body),
 * and destroys the socket once the client has closed its side, or after LINGER_MS at most.
 *
 * Only for refused bodies (413): one override on that socket, nothing on the common path.
 *
 * @example
 * void reply.header('connection', 'close');
 * lingerAfterAnswer(reply.raw.socket);
 */
export function lingerAfterAnswer(socket: unknown): void {
  // app.inject() has no real socket: there is no connection to keep open.
  if (!(socket instanceof Socket) || socket.destroyed) return;
  socket.destroySoon = function lingeringDestroySoon(this: Socket): void {
    if (this.destroyed) return;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    this.once('close', () => clearTimeout(timer));
    // The client's FIN: it sent all it will, and closing now leaves nothing unread to reset over.
    this.once('end', () => this.destroy());
    // The bytes still arriving go on through the HTTP server's parser, which drops them with the
    // answered request's body.
    this.end();
  };
}
