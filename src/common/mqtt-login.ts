/**
 * What a part gives mqtt.js to log in to the broker: the user name and password, and the TLS files
 * for a broker with a private CA or client certificates. Only the fields that are set are present,
 * so the object spreads straight into mqtt.js's client options. src/cli/mqtt-flags.ts reads it from
 * the command line.
 */
export interface MqttLogin {
  username?: string;
  password?: string;
  /** PEM: the CA that signed the broker's certificate. */
  ca?: Buffer;
  /** PEM: a client certificate, and its private key (always both). */
  cert?: Buffer;
  key?: Buffer;
}
