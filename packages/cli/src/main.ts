#!/usr/bin/env node
console.log("outbound");
