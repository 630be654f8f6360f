// s3rver (an S3 server without Object Lock) on a free loopback port, for the tests.
// Usage: node s3rver.js DATA_DIR ACCESS_KEY SECRET_KEY
// Accepts the tests' AWS credentials (signatures are checked) and prints
// "listening on 127.0.0.1:PORT" once it is ready; stops on SIGTERM.
'use strict';
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

const [directory, accessKey, secretKey] = process.argv.slice(2);
DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
const server = new S3rver({ directory, address: '127.0.0.1', port: 0, silent: true,
                            vhostBuckets: false });
server.run().then(({ address, port }) => {
  console.log(`listening on ${address}:${port}`);
}, (err) => { console.error(err); process.exit(1); });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
