console.log('ingress: not yet');
